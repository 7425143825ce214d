"""Notifications: written in the transaction of the change they report (the inbox), and mailed
after commit (the mail outbox)."""
