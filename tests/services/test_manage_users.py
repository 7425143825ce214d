"""User administration and invitations as services (no HTTP)."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash

from models import CourseGroup, Role, db
from services.common.errors import NotAllowed, ValidationError
from services.people.invitations import (
    INVITATION_SALT,
    InvitationError,
    accept_invitation,
    make_invitation,
    read_invitation,
)
from services.people.users import (
    NewAccount,
    create_account,
    list_users,
    set_account_active,
    set_account_password,
    update_account,
)
from services.permissions import assignable_roles
from tests.conftest import FAST_HASH

KEY = "test-secret"
PASSWORD = "a long enough password"


def errors_of(call, *args, **kwargs) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    db.session.rollback()
    return caught.value.errors


def test_roles_a_coordinator_may_give(app, make_user):
    assert Role.ADMIN not in assignable_roles(make_user("coordinator"))
    assert assignable_roles(make_user("admin")) == list(Role)


def test_create_account_reports_every_problem_at_once(app, make_user):
    coordinator = make_user("coordinator")
    errors = errors_of(
        create_account,
        coordinator,
        NewAccount(email="", name="", role="admin", password="short", confirm="short"),
        hash_method=FAST_HASH,
    )
    assert errors == {
        "email": "Enter an e-mail address.",
        "name": "Enter the person's name.",
        "role": "Only an admin can give the admin role.",
        "password": "The password must have at least 10 characters.",
    }
    user = create_account(
        coordinator,
        NewAccount(email="A@B.TEST", name="  Ann   Lee ", role="mentor"),
        hash_method=FAST_HASH,
    )
    assert (user.email, user.name, user.role, user.password_hash) == (
        "a@b.test",
        "Ann Lee",
        Role.MENTOR,
        None,
    )
    assert errors_of(
        create_account, coordinator, NewAccount(email="a@b.test", name="X", role="student"),
        hash_method=FAST_HASH,
    ) == {"email": "An account with a@b.test already exists."}  # fmt: skip


def test_guard_rails(app, make_user):
    admin = make_user("admin")
    coordinator = make_user("coordinator")
    other_admin = make_user("admin")
    assert errors_of(set_account_active, admin, admin, False) == {
        "active": "You cannot deactivate your own account."
    }
    assert errors_of(update_account, admin, admin, name="A", role="coordinator") == {
        "role": "You cannot change your own role; ask another admin."
    }
    for call, kwargs in (
        (update_account, {"name": "X", "role": "student"}),
        (set_account_active, {"active": False}),
    ):
        with pytest.raises(NotAllowed):
            call(coordinator, other_admin, **kwargs)
    with pytest.raises(NotAllowed):
        set_account_password(coordinator, admin, PASSWORD, PASSWORD, hash_method=FAST_HASH)
    with pytest.raises(NotAllowed):
        make_invitation(coordinator, admin, secret_key=KEY)
    assert errors_of(update_account, coordinator, coordinator, name="C", role="admin") == {
        "role": "Only an admin can give the admin role."
    }
    # An admin may demote another admin.
    update_account(admin, other_admin, name="Former admin", role="coordinator")
    assert other_admin.role == Role.COORDINATOR


def test_a_mentor_of_active_groups_keeps_the_role_until_they_have_another_mentor(
    app, make_user, make_group
):
    admin, ada = make_user("admin"), make_user("mentor", name="Ada")
    make_group("Maths 7A", mentor=ada)
    make_group("Physics 9C", mentor=ada)
    make_group("Old club", mentor=ada, active=False)
    assert errors_of(update_account, admin, ada, name="Ada", role="student") == {
        "role": "Ada teaches Maths 7A and 1 more: give the groups another mentor first."
    }
    assert ada.role == Role.MENTOR
    update_account(admin, ada, name="Ada L.", role="mentor")  # a rename is fine
    for group in db.session.scalars(select(CourseGroup).where(CourseGroup.mentor_id == ada.id)):
        group.active = False
    update_account(admin, ada, name="Ada", role="student")  # inactive groups do not hold it
    assert ada.role == Role.STUDENT


def test_deactivation_rotates_the_session_token(app, make_user):
    admin, user = make_user("admin"), make_user("student")
    token = user.session_token
    set_account_active(admin, user, False)
    assert user.session_token != token and not user.is_active_account
    set_account_active(admin, user, True)
    assert user.is_active_account


def test_list_users_filters(app, make_user):
    make_user("student", name="Ann", email="ann@school.test")
    make_user("mentor", name="Bob", email="bob@school.test", active=False)
    assert [u.name for u in list_users("ANN@").items] == ["Ann"]
    assert [u.name for u in list_users(role="mentor").items] == ["Bob"]
    assert [u.name for u in list_users(status="inactive").items] == ["Bob"]
    assert list_users(role="nonsense").total == 2


def test_invitation_round_trip_and_single_use(app, make_user):
    admin, user = make_user("admin"), make_user("student", password=None)
    token = make_invitation(admin, user, secret_key=KEY)
    assert read_invitation(token, secret_key=KEY, max_age_days=7) is user
    assert errors_of(
        accept_invitation, token, PASSWORD, "other", secret_key=KEY, max_age_days=7,
        hash_method=FAST_HASH,
    ) == {"confirm": "The two passwords differ."}  # fmt: skip
    accept_invitation(
        token, PASSWORD, PASSWORD, secret_key=KEY, max_age_days=7, hash_method=FAST_HASH
    )
    db.session.commit()
    assert check_password_hash(user.password_hash, PASSWORD)
    with pytest.raises(InvitationError, match="already been used") as caught:
        read_invitation(token, secret_key=KEY, max_age_days=7)
    assert caught.value.status == 410


def test_invitation_expiry_uses_the_signed_timestamp(app, make_user):
    admin, user = make_user("admin"), make_user("student", password=None)
    token = make_invitation(admin, user, secret_key=KEY)
    # itsdangerous compares the signed timestamp's age with max_age (the web tests sign a
    # token eight days in the past); here the allowed age is simply below zero.
    with pytest.raises(InvitationError, match="expired"):
        read_invitation(token, secret_key=KEY, max_age_days=-1)


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token + "x",
        lambda token: "x" + token,
        lambda token: URLSafeTimedSerializer("other-key", salt=INVITATION_SALT).dumps(
            {"user": 1, "check": "x"}
        ),
        lambda token: URLSafeTimedSerializer(KEY, salt="another-purpose").dumps({"user": 1}),
        lambda token: URLSafeTimedSerializer(KEY, salt=INVITATION_SALT).dumps([1, 2]),
        lambda token: URLSafeTimedSerializer(KEY, salt=INVITATION_SALT).dumps(
            {"user": 2**70, "check": "x"}
        ),
    ],
)
def test_forged_invitations_are_not_valid(app, make_user, forge):
    admin, user = make_user("admin"), make_user("student", password=None)
    token = make_invitation(admin, user, secret_key=KEY)
    with pytest.raises(InvitationError, match="not valid") as caught:
        read_invitation(forge(token), secret_key=KEY, max_age_days=7)
    assert caught.value.status == 404


def test_deactivated_accounts_get_no_invitation(app, make_user):
    admin, user = make_user("admin"), make_user("student", active=False)
    assert errors_of(make_invitation, admin, user, secret_key=KEY) == {
        "invitation": "This account is deactivated; reactivate it before inviting."
    }
