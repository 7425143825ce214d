"""What happened in a session: completion with actual times and codes, typed notes, files,
ratings, its history of events, the mentor's tracking views and the participants' dashboards."""
