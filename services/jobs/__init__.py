"""Background jobs on huey: the queue and its settings (`queue`), the tasks (`tasks`)."""
