"""Behaviour of the application: plain functions callable from routes, the CLI, tests and the API.

Services flush but never commit: the caller commits once, so one user action is one transaction.
"""
