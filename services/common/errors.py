"""Domain errors carrying what the user must read."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors that services raise for the user to see."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that cannot be accepted; `errors` maps field names to messages."""

    def __init__(self, message: str | dict[str, str], *, field: str | None = None):
        if isinstance(message, dict):
            self.errors = dict(message)
            text = "; ".join(f"{k}: {v}" for k, v in message.items())
        else:
            self.errors = {field or "__all__": message}
            text = message
        super().__init__(text, field=field)


class ConflictError(DomainError):
    """The change would double-book a room or a mentor; `others` are the sessions in the way."""

    def __init__(self, message: str, *, others=(), field: str | None = None):
        super().__init__(message, field=field)
        self.others = list(others)


class InvalidTransition(DomainError):
    """The object's state does not allow this action (a completed session, a cancelled one...)."""


class NotFoundError(DomainError):
    """The object does not exist or the acting user may not see it (a 404: not yours to see)."""


class NotAllowed(DomainError):
    """The acting user may see the object but not do this to it (a 403)."""
