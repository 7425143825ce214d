"""What leaves Termtable for other programs: iCalendar feeds (and their time zones), spreadsheet
exports and the coordinators' reports."""
