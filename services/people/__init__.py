"""People: accounts and passwords, user administration and invitation links, API tokens."""
