"""What the timetable is made of: rooms, subjects, course groups (with their series and
enrolments) and mentors as students find them."""
