"""Session requests: a student asks, the mentor approves (in whole or in part) or rejects,
requests expire; and the lists the pages read."""
