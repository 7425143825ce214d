"""Limits on login attempts, kept in the limiter's storage (shared by every worker with Redis).

- Per client address (LOGIN_RATE_LIMIT): one machine cannot try passwords quickly.
- Per account (LOGIN_ACCOUNT_RATE_LIMIT), whatever the address: guesses spread over many
  addresses are slowed too. Its windows are short (by default a pause of up to a minute, then
  of up to five), so a stranger cannot keep the owner out for long.
- A browser that has logged in to an account before holds a signed cookie naming that account
  (its "known device"); its attempts at that account count against the cookie alone, not the
  address or the account. Neither a stranger hammering an account nor someone behind the same
  proxy address (a school's one public address) holds its owner up on their own browsers.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable

from flask import current_app, g, request
from flask_limiter import Limiter, RequestLimit
from itsdangerous import BadSignature, URLSafeSerializer
from limits.strategies import FixedWindowRateLimiter

from services.common.wording import plural

DEVICE_COOKIE = "login_device"
DEVICE_COOKIE_DAYS = 365


def limit_login_attempts(limiter: Limiter, view: Callable) -> Callable:
    """`view` (the login view) with the three limits, on POST only."""
    by_address = limiter.limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT"],
        methods=["POST"],
        exempt_when=_from_known_device,
        on_breach=_note_retry_time,
        error_message=_refusal("from your network address"),
    )
    by_account = limiter.limit(
        lambda: current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"],
        key_func=lambda: "account:" + _account_digest(_posted_email()),
        methods=["POST"],
        exempt_when=_from_known_device,
        on_breach=_note_retry_time,
        error_message=_refusal("for this account"),
    )
    by_device = limiter.limit(
        lambda: current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"],
        key_func=lambda: "device:" + (_known_device() or ""),
        methods=["POST"],
        exempt_when=lambda: not _from_known_device(),
        on_breach=_note_retry_time,
        error_message=_refusal("for this account from this browser"),
    )
    return by_address(by_account(by_device(view)))


def give_back_successful_login(limiter: Limiter) -> None:
    """A login that succeeded was no guess: what it counted against the address and the
    account is given back, so a class of pupils behind their school's one public address can
    all log in within a minute. Only guesses use the limits up. (Attempts are counted as they
    arrive, before the password is checked, so that many at once cannot slip past the limit.)
    """
    if not limiter.enabled:
        return
    if not isinstance(limiter.limiter, FixedWindowRateLimiter):
        return  # a moving window keeps each hit: nothing to give back (RATELIMIT_STRATEGY)
    for counted in limiter.current_limits:
        # (Not when its window has ended since: that would credit the next one.)
        if not counted.breached and counted.remaining < counted.limit.amount:
            limiter.limiter.hit(counted.limit, *counted.request_args, cost=-1)


def remember_device(response, email: str) -> None:
    """After a successful login: this browser is a known device of the account."""
    value = _serializer().dumps(
        {"account": _account_digest(email), "device": secrets.token_hex(16)}
    )
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
        path=request.path,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def _posted_email() -> str:
    # As find_user_by_email compares them: "Ada@School.test " is ada@school.test's account.
    return (request.form.get("email") or "").strip().lower()


def _account_digest(email: str) -> str:
    # Keyed: neither the limiter's storage nor the cookie shows the e-mail address.
    key = current_app.secret_key.encode()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="login-device")


def _known_device() -> str | None:
    """The id of this browser's known-device cookie when it names the account being tried."""
    if "login_device" not in g:
        g.login_device = None
        raw = request.cookies.get(DEVICE_COOKIE)
        if raw and request.method == "POST":
            try:
                payload = _serializer().loads(raw)
            except BadSignature:
                payload = None
            if (
                isinstance(payload, dict)
                and isinstance(payload.get("device"), str)
                and hmac.compare_digest(
                    str(payload.get("account")), _account_digest(_posted_email())
                )
            ):
                g.login_device = payload["device"]
    return g.login_device


def _from_known_device() -> bool:
    return _known_device() is not None


def _note_retry_time(limit: RequestLimit) -> None:
    g.login_retry_at = max(g.get("login_retry_at", 0), limit.reset_at)


def _refusal(whom: str) -> Callable[[], str]:
    def message() -> str:
        # Counted as the Retry-After header counts them.
        seconds = max(1, int(g.get("login_retry_at", time.time() + 60) - time.time()))
        wait = (
            plural(seconds, "second")
            if seconds <= 90
            else plural(math.ceil(seconds / 60), "minute")
        )
        return (
            f"Too many log-in attempts {whom}: logging in is paused to stop password guessing. "
            f"Try again in {wait}."
        )

    return message
