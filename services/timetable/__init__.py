"""The timetable: weekly series and their rules (recurrence), dated sessions made from them
(generation), per-date exceptions, conflicts, single sessions, the schedule's views, and the
timetable's CSV import and export."""
