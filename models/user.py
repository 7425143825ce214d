from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models.enums import Role, enum_column
from models.types import UTCDateTime, utcnow


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    # NULL until a password is set (accounts created by an import cannot log in yet).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active_account: Mapped[bool] = mapped_column("active", default=True)
    # Part of the login cookie; rotated at logout so a copied cookie stops working.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Minutes before each session to be reminded (services/reminders.py): None for the
    # defaults (a day and an hour), [] for none.
    reminder_minutes: Mapped[list[int] | None] = mapped_column(JSON)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.is_active_account

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_staff(self) -> bool:
        """Admins and coordinators manage the timetable."""
        return self.role in (Role.ADMIN, Role.COORDINATOR)

    @property
    def can_log_in(self) -> bool:
        return self.is_active_account and self.password_hash is not None

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
