"""E-mail for notifications: the outbox (`Notification.email_status`) sent over SMTP after the
transactions that wrote it have committed.

Settings (`FLASK_MAIL_*` in the environment): `MAIL_SERVER` (nothing is sent without it),
`MAIL_PORT` (25), `MAIL_USERNAME` and `MAIL_PASSWORD` (log in when a user name is set),
`MAIL_USE_TLS` (STARTTLS), `MAIL_DEFAULT_SENDER`, and `BASE_URL`, the site's public address,
which links in e-mails start with (never taken from a request's Host header, which a client
chooses).
"""

from __future__ import annotations

import hmac
import smtplib
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from urllib.parse import urljoin, urlsplit

from blinker import Namespace
from flask import current_app
from sqlalchemy import and_, case, literal, or_, select, update

from models import EmailStatus, Notification, User, db
from models.types import UTCDateTime, one_of
from services.common.wording import plural

# A notification whose mail failed this many times stays failed (and is not tried again).
MAX_ATTEMPTS = 3
# After a failed attempt, the next one waits: a mail server that is down or refusing is
# not asked again at once (the delivery jobs run back to back while messages wait).
RETRY_AFTER = {1: timedelta(minutes=1), 2: timedelta(minutes=10)}
# Seconds to wait for the mail server (connecting, and each exchange) before giving up.
SMTP_TIMEOUT = 10
# How long a worker holds the messages it claimed (MAIL_LEASE_SECONDS): sent ones are
# recorded every SENT_BATCH messages, well within it.
MAIL_LEASE_SECONDS = 600
SENT_BATCH = 20


# Sent (sender: the app, count=, reason=) when messages failed: the metrics count them. The
# reason is `refused` (the server refused this message), `connection` (it could not be
# reached, or the connection was lost) or `error` (anything else).
email_failed = Namespace().signal("email-failed")


@dataclass(frozen=True)
class MailSummary:
    sent: int = 0
    failed: int = 0


def _flag(value) -> bool:
    """A boolean setting: JSON from the environment (`true`), or words like `yes`/`off`."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _sendable(now: datetime):
    """Rows to mail: pending ones, failed ones with attempts left once their wait is over,
    and ones whose worker's lease ran out (it died, or lost its connection, while sending
    them)."""
    return or_(
        Notification.email_status == EmailStatus.PENDING,
        and_(
            Notification.email_status.in_((EmailStatus.FAILED, EmailStatus.SENDING)),
            Notification.email_attempts < MAX_ATTEMPTS,
            or_(
                and_(
                    Notification.email_status == EmailStatus.FAILED,
                    or_(Notification.email_retry_at.is_(None), Notification.email_retry_at <= now),
                ),
                Notification.email_lease_until < now,
            ),
        ),
    )


def _claim(limit: int, now: datetime, lease: timedelta) -> list[int]:
    """Lease up to `limit` sendable rows to this worker, in one committed UPDATE.

    A claimed row is `sending` until `now + lease`: no other worker takes it meanwhile, so
    two workers never send one message twice. Once the message is accepted by the mail
    server it is marked `sent`; a worker killed before that leaves the lease to run out, and
    the message is sent again (at least once), with the same Message-ID, the idempotency key
    mail systems recognise. On PostgreSQL a concurrent claim waits for this one and re-checks
    the condition; on SQLite writers are serialised.
    """
    # Leases that ran out on a message's last attempt: it failed for good.
    db.session.execute(
        update(Notification)
        .where(
            Notification.email_status == EmailStatus.SENDING,
            Notification.email_lease_until < now,
            Notification.email_attempts >= MAX_ATTEMPTS,
        )
        .values(email_status=EmailStatus.FAILED, email_lease_until=None)
        .execution_options(synchronize_session=False)
    )
    candidates = (
        select(Notification.id).where(_sendable(now)).order_by(Notification.id).limit(limit)
    ).scalar_subquery()
    claimed = db.session.scalars(
        update(Notification)
        .where(Notification.id.in_(candidates), _sendable(now))
        .values(
            email_status=EmailStatus.SENDING,
            email_attempts=Notification.email_attempts + 1,
            email_lease_until=now + lease,
            email_retry_at=None,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


def message_id(notification_id: int, config) -> str:
    """The Message-ID of a notification's e-mail, the same on every attempt: the idempotency
    key by which a mail server or client recognises a message sent again after a worker died
    between sending it and recording it sent. Keyed by the app's secret, so that one
    installation's ids neither collide with another's nor can be guessed."""
    digest = hmac.new(
        str(config["SECRET_KEY"]).encode(), f"notification:{notification_id}".encode(), "sha256"
    ).hexdigest()[:16]
    host = urlsplit(config.get("BASE_URL") or "").hostname or "termtable.invalid"
    return f"<notification.{notification_id}.{digest}@{host}>"


def _message(note: Notification, user: User, sender: str, base_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    # An Address (not a formatted string) lets the email package quote and encode the name.
    message["To"] = Address(display_name=_one_line(user.name), addr_spec=user.email)
    message["Subject"] = _one_line(note.title)
    message["Message-ID"] = message_id(note.id, current_app.config)
    lines = [note.title, ""]
    if note.body:
        lines += [note.body, ""]
    if note.link:
        lines += [f"Open it: {urljoin(base_url, note.link.lstrip('/')) if base_url else note.link}"]
    if base_url:
        lines += [f"All your notifications: {urljoin(base_url, 'notifications/')}"]
    lines += ["", "Termtable"]
    message.set_content("\n".join(lines) + "\n")
    return message


def _connect(config) -> smtplib.SMTP:
    smtp = smtplib.SMTP(
        config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25), timeout=SMTP_TIMEOUT
    )
    try:
        if _flag(config.get("MAIL_USE_TLS")):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            # str(): from_prefixed_env reads an all-digit password as a number.
            smtp.login(str(config["MAIL_USERNAME"]), str(config.get("MAIL_PASSWORD") or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def _mark_failed(ids: list[int], now: datetime) -> None:
    if ids:
        retry_at = case(
            *(
                (Notification.email_attempts == n, literal(now + wait, UTCDateTime()))
                for n, wait in RETRY_AFTER.items()
            ),
            else_=None,
        )
        db.session.execute(
            update(Notification)
            .where(one_of(Notification.id, ids))
            .values(
                email_status=EmailStatus.FAILED, email_lease_until=None, email_retry_at=retry_at
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def _mark_sent(ids: list[int]) -> None:
    if ids:
        db.session.execute(
            update(Notification)
            .where(one_of(Notification.id, ids), Notification.email_status == EmailStatus.SENDING)
            .values(email_status=EmailStatus.SENT, email_lease_until=None, email_retry_at=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def send_pending(
    limit: int = 100,
    base_url: str | None = None,
    now: datetime | None = None,
    on_claimed: Callable[[int], None] | None = None,
) -> MailSummary:
    """Mail up to `limit` queued notifications (pending, failed with attempts left, or left
    `sending` by a worker whose lease ran out) over one SMTP connection; each ends `sent` or
    `failed` with its attempt counted.

    Never raises: a failure is logged and its rows stay `failed` for the next run (up to
    `MAX_ATTEMPTS`). Does nothing without `MAIL_SERVER`. Commits its own short transactions,
    so call it outside any request's transaction (a job, or the CLI). `on_claimed(n)` is
    called once the messages are leased, before any is sent (the delivery job queues the next
    batch then, for another worker).
    """
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return MailSummary()
    base_url = (base_url or config.get("BASE_URL") or "").rstrip("/")
    base_url = base_url + "/" if base_url else ""
    sender = (
        config.get("MAIL_DEFAULT_SENDER") or config.get("MAIL_USERNAME") or "termtable@localhost"
    )
    logger = current_app.logger
    lease = timedelta(seconds=float(config.get("MAIL_LEASE_SECONDS") or MAIL_LEASE_SECONDS))
    try:
        ids = _claim(limit, now or datetime.now(UTC), lease)
    except Exception:
        db.session.rollback()
        logger.exception("Notification e-mail: could not read the outbox")
        return MailSummary()
    if not ids:
        return MailSummary()
    if on_claimed is not None:
        on_claimed(len(ids))

    failed: dict[int, str] = {}  # notification id: reason
    delivered: set[int] = set()
    recorded: set[int] = set()
    try:
        # Plain messages first, then end the (read) transaction before talking to the server:
        # on SQLite an open transaction would hold the write lock for the whole exchange.
        # Up to `limit` (10,000 from the command line) ids, bound as one list (`one_of`).
        outgoing = [
            (note.id, user.email, _message(note, user, sender, base_url))
            for note, user in db.session.execute(
                select(Notification, User)
                .join(User, User.id == Notification.user_id)
                .where(one_of(Notification.id, ids))
                .order_by(Notification.id)
            )
        ]
        db.session.rollback()
        with _connect(config) as smtp:
            for index, (note_id, email, message) in enumerate(outgoing):
                try:
                    smtp.send_message(message)
                    delivered.add(note_id)
                    recorded = _record_sent(delivered, recorded, force=False)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError,
                        smtplib.SMTPSenderRefused) as err:  # fmt: skip
                    # This message was refused; the connection still serves the others.
                    failed[note_id] = "refused"
                    logger.warning("Notification %s: e-mail to %s refused: %s", note_id, email, err)
                except (OSError, smtplib.SMTPException) as err:
                    failed.update((row[0], "connection") for row in outgoing[index:])
                    logger.warning(
                        "Notification e-mail: connection lost at notification %s: %s", note_id, err
                    )
                    break
    except (OSError, smtplib.SMTPException) as err:
        failed.update((i, "connection") for i in ids if i not in delivered and i not in failed)
        logger.warning(
            "Notification e-mail: could not send %s via %s:%s: %s",
            plural(len(ids), "message"), config["MAIL_SERVER"], config.get("MAIL_PORT") or 25, err,
        )  # fmt: skip
    except Exception:
        db.session.rollback()
        failed.update((i, "error") for i in ids if i not in delivered and i not in failed)
        logger.exception("Notification e-mail: could not send %s", plural(len(ids), "message"))
    try:
        _record_sent(delivered, recorded, force=True)
        _mark_failed(sorted(failed), now or datetime.now(UTC))
    except Exception:
        db.session.rollback()
        # The leases run out and the messages are sent again (with the same Message-ID).
        logger.exception("Notification e-mail: could not record the outcome of %s", ids)
    for reason, count in Counter(failed.values()).items():
        email_failed.send(current_app._get_current_object(), count=count, reason=reason)
    return MailSummary(sent=len(ids) - len(failed), failed=len(failed))


def _record_sent(delivered: set[int], recorded: set[int], *, force: bool) -> set[int]:
    """Mark sent what was delivered and not yet recorded: every SENT_BATCH messages while
    sending (well within the lease), and the rest at the end."""
    fresh = delivered - recorded
    if fresh and (force or len(fresh) >= SENT_BATCH):
        _mark_sent(sorted(fresh))
        return recorded | fresh
    return recorded
