"""Subjects: list, create, edit, deactivate and reactivate (never deleted: groups refer to them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from models import Subject, db
from services.catalogue.rooms import clean_name, filter_status, flush_unique, name_taken
from services.common.errors import ValidationError
from services.common.pagination import DEFAULT_PER_PAGE, Page, contains, paginate


@dataclass
class SubjectData:
    name: str
    active: bool = True


def list_subjects(
    search: str = "", *, status: str | None = None, page: int = 1, per_page=DEFAULT_PER_PAGE
) -> Page:
    """Subjects whose name contains `search`, active ones first, then by name."""
    query = select(Subject).order_by(Subject.active.desc(), Subject.name)
    if search.strip():
        query = query.where(contains(Subject.name, search))
    return paginate(filter_status(query, Subject.active, status), page, per_page)


def _validate(data: SubjectData, subject: Subject | None) -> str:
    name, problem = clean_name(data.name, what="subject")
    if problem is None and name_taken(Subject, name, exclude_id=subject.id if subject else None):
        problem = f"A subject named {name} already exists."
    if problem:
        raise ValidationError({"name": problem})
    return name


def create_subject(data: SubjectData) -> Subject:
    name = _validate(data, None)
    subject = Subject(name=name, active=data.active)
    db.session.add(subject)
    flush_unique({"name": f"A subject named {name} already exists."})
    return subject


def update_subject(subject: Subject, data: SubjectData) -> Subject:
    name = _validate(data, subject)
    subject.name, subject.active = name, data.active
    flush_unique({"name": f"A subject named {name} already exists."})
    return subject


def set_subject_active(subject: Subject, active: bool) -> Subject:
    """Deactivate (or bring back) a subject; its groups keep it, new groups cannot choose it."""
    subject.active = active
    db.session.flush()
    return subject
