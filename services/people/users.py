"""User administration by staff (invitation links: invitations.py).

Rules (also in the README):
- Admins manage every account. Coordinators manage coordinators, mentors and students, but
  cannot give the admin role nor change, deactivate, set a password for or invite an admin.
- Nobody changes their own role or deactivates their own account, so an admin cannot lock
  themself (or the school) out.
- Deactivating an account ends all its logins at once; it is never deleted (sessions,
  enrolments and exceptions refer to it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from models import CourseGroup, Role, User, db
from services.common.errors import NotAllowed, ValidationError
from services.common.pagination import DEFAULT_PER_PAGE, Page, contains, paginate
from services.people.accounts import (
    MIN_PASSWORD_LENGTH,
    PasswordChange,
    create_user,
    end_all_sessions,
    find_user_by_email,
    has_control_characters,
    hash_password,
    normalise_email,
    parse_role,
    prepare_password,
    store_password,
)
from services.permissions import assignable_roles, can_manage

NAME_LENGTH = 120


# --- Listing ------------------------------------------------------------------------------------


def list_users(
    search: str = "",
    *,
    role: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page=DEFAULT_PER_PAGE,
) -> Page:
    """Accounts whose name or e-mail contains `search`, optionally of one role; by name."""
    query = select(User).order_by(User.is_active_account.desc(), User.name, User.email)
    if search.strip():
        query = query.where(or_(contains(User.name, search), contains(User.email, search)))
    if role in {r.value for r in Role}:
        query = query.where(User.role == Role(role))
    if status == "active":
        query = query.where(User.is_active_account.is_(True))
    elif status == "inactive":
        query = query.where(User.is_active_account.is_(False))
    return paginate(query, page, per_page)


# --- Permissions --------------------------------------------------------------------------------


def ensure_can_manage(actor: User, target: User) -> None:
    if not can_manage(actor, target):
        raise NotAllowed("Only an admin can change an admin's account.")


def _role_for(actor: User, raw: str | Role) -> Role:
    role = raw if isinstance(raw, Role) else parse_role(raw)
    if role not in assignable_roles(actor):
        raise ValidationError({"role": "Only an admin can give the admin role."})
    return role


# --- Accounts -----------------------------------------------------------------------------------


@dataclass
class NewAccount:
    email: str
    name: str
    role: str
    password: str = ""
    confirm: str = ""


def _clean_name(raw: str | None) -> tuple[str, str | None]:
    name = " ".join((raw or "").split())
    if not name:
        return name, "Enter the person's name."
    if len(name) > NAME_LENGTH:
        return name, f"A name has at most {NAME_LENGTH} characters."
    if has_control_characters(name):
        return name, "A name cannot contain control characters."
    return name, None


def password_errors(password: str, confirm: str) -> dict[str, str]:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return {"password": f"The password must have at least {MIN_PASSWORD_LENGTH} characters."}
    if password != confirm:
        return {"confirm": "The two passwords differ."}
    return {}


@dataclass(frozen=True)
class CheckedAccount:
    """A new account's details, checked, its password (if any) hashed already."""

    email: str
    name: str
    role: Role
    password_hash: str | None


def create_account(actor: User, data: NewAccount, *, hash_method: str) -> User:
    """Create an account; without a password it cannot log in until one is set or invited."""
    return store_new_account(check_new_account(actor, data, hash_method=hash_method))


def store_new_account(account: CheckedAccount) -> User:
    return create_user(
        account.email,
        account.name,
        account.role,
        password=None,
        hash_method="",
        password_hash=account.password_hash,
    )


def check_new_account(actor: User, data: NewAccount, *, hash_method: str) -> CheckedAccount:
    """Check a new account's details and hash its password, writing nothing (a page does
    this before its write transaction: see `reads_first`)."""
    errors: dict[str, str] = {}
    try:
        email = normalise_email(data.email)
    except ValidationError as err:
        email = ""
        errors["email"] = (
            "Enter an e-mail address." if not (data.email or "").strip() else err.message
        )
    name, problem = _clean_name(data.name)
    if problem:
        errors["name"] = problem
    try:
        role = _role_for(actor, data.role)
    except ValidationError as err:
        errors.update(err.errors)
    if data.password or data.confirm:
        errors.update(password_errors(data.password, data.confirm))
    if email and find_user_by_email(email) is not None:
        errors["email"] = f"An account with {email} already exists."
    if errors:
        raise ValidationError(errors)
    password_hash = hash_password(data.password, method=hash_method) if data.password else None
    return CheckedAccount(email=email, name=name, role=role, password_hash=password_hash)


def update_account(actor: User, user: User, *, name: str, role: str) -> User:
    """Rename a user or change their role (never one's own role)."""
    ensure_can_manage(actor, user)
    errors: dict[str, str] = {}
    clean, problem = _clean_name(name)
    if problem:
        errors["name"] = problem
    try:
        new_role = _role_for(actor, role)
    except ValidationError as err:
        new_role = user.role
        errors.update(err.errors)
    if user.id == actor.id and new_role != user.role and "role" not in errors:
        errors["role"] = "You cannot change your own role; ask another admin."
    elif user.role == Role.MENTOR and new_role != Role.MENTOR and (taught := _groups_taught(user)):
        more = f" and {len(taught) - 1} more" if len(taught) > 1 else ""
        errors["role"] = (
            f"{user.name} teaches {taught[0]}{more}: give the group{'s' if more else ''} "
            "another mentor first."
        )
    if errors:
        raise ValidationError(errors)
    user.name = clean
    if new_role != user.role:
        user.role = new_role
        # A changed role changes what every open login may do: make them log in again.
        end_all_sessions(user)
    db.session.flush()
    return user


def _groups_taught(user: User) -> list[str]:
    """The names of the active groups `user` is the mentor of."""
    return list(
        db.session.scalars(
            select(CourseGroup.name)
            .where(CourseGroup.mentor_id == user.id, CourseGroup.active.is_(True))
            .order_by(CourseGroup.name)
        )
    )


def set_account_active(actor: User, user: User, active: bool) -> User:
    """Deactivate (ending every login at once) or reactivate an account."""
    ensure_can_manage(actor, user)
    if not active and user.id == actor.id:
        raise ValidationError({"active": "You cannot deactivate your own account."})
    user.is_active_account = active
    if not active:
        end_all_sessions(user)
    db.session.flush()
    return user


def set_account_password(
    actor: User, user: User, password: str, confirm: str, *, hash_method: str
) -> User:
    """Staff set a password directly; every existing login and API token of the account ends."""
    change = prepare_account_password(actor, user, password, confirm, hash_method=hash_method)
    return store_account_password(change)


def prepare_account_password(
    actor: User, user: User, password: str, confirm: str, *, hash_method: str
) -> PasswordChange:
    """Check and hash a password staff set, writing nothing (see `store_account_password`)."""
    ensure_can_manage(actor, user)
    errors = password_errors(password, confirm)
    if errors:
        raise ValidationError(errors)
    return prepare_password(user, password, method=hash_method)


def store_account_password(change: PasswordChange) -> User:
    user = store_password(change)
    if user is None:
        raise ValidationError(
            {
                "password": "This account's password changed, or it logged out everywhere, "
                "while yours was being set: nothing was changed. Look at the account again "
                "before setting it."
            }
        )
    return user
