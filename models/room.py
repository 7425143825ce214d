from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class Room(db.Model):
    __tablename__ = "room"
    __table_args__ = (
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    capacity: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    def __repr__(self) -> str:
        return f"<Room {self.name}>"
