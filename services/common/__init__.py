"""Shared by every domain: domain errors, time zones, numbers typed by people, pagination, and
the words of messages."""
