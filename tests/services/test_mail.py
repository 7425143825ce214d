"""Notification e-mail: sent over real SMTP (aiosmtpd on a free 127.0.0.1 port) by the
delivery job, queued once the transaction that wrote the notifications has committed; each
message leased to one worker while it is sent, sent again with the same Message-ID when its
worker died; failures are logged, counted and retried up to three attempts, and never fail
the request; without MAIL_SERVER nothing is attempted."""

from __future__ import annotations

import contextvars
import queue
import smtplib
import socket
import threading
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask import has_request_context
from sqlalchemy import select
from webtest import TestApp

from models import EmailStatus, Notification, db
from services.jobs.queue import queue_stats, run_queued_jobs
from services.notifications import mail
from services.notifications.inbox import notify
from services.notifications.mail import MAX_ATTEMPTS, message_id, send_pending
from services.timetable.exceptions import (
    OverrideChange,
    save_override,
)
from services.timetable.sessions import create_one_time_session
from tests.conftest import AKL, csrf_token_of

PARIS = ZoneInfo("Europe/Paris")
BASE_URL = "https://termtable.example.org"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the SMTP server received, one EmailMessage per delivery, waited on (no sleeps)."""

    def __init__(self):
        self.received: queue.Queue[tuple[list[str], EmailMessage]] = queue.Queue()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.put((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def next(self, timeout: float = 5) -> tuple[list[str], EmailMessage]:
        return self.received.get(timeout=timeout)

    def take(self, count: int) -> list[tuple[list[str], EmailMessage]]:
        return [self.next() for _ in range(count)]

    def is_empty(self) -> bool:
        return self.received.empty()


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def mail_to(app, monkeypatch):
    """Point the app at a mail server (a port), for this test only."""

    def configure(port: int, **extra):
        settings = {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_DEFAULT_SENDER": "Termtable <termtable@school.test>",
            "BASE_URL": BASE_URL,
            **extra,
        }
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)

    return configure


@pytest.fixture
def inbox(smtp_server, mail_to):
    controller, received = smtp_server
    mail_to(controller.port)
    return received


@pytest.fixture
def lesson(make_user, make_group):
    """A one-time session of Maths 7A (mentor Ada; students Alice and Bob) next week."""
    ada = make_user("mentor", name="Ada Lovelace", email="ada@school.test")
    alice = make_user("student", name="Alice Martin", email="alice@school.test")
    bob = make_user("student", name="Bob Stone", email="bob@school.test")
    group = make_group("Maths 7A", mentor=ada, students=[alice, bob])
    outcome = create_one_time_session(
        group_id=group.id, day=date.today() + timedelta(days=7), start=time(10), end=time(11),
        room_id=group.default_room_id, actor=None, tz=PARIS,
    )  # fmt: skip
    db.session.commit()
    return {"occurrence": outcome.occurrence, "ada": ada, "alice": alice, "bob": bob}


class OwnContext:
    """Runs each request outside the test's open app context, as a server does: the request
    pushes its own app context (so its own database session, removed at teardown before the
    response is closed and the mail goes out). Without this, the request would share the
    test's session, whose open SQLite transaction would block the after-response send."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return contextvars.Context().run(self.app, environ, start_response)


def cancel_through_the_web(app, make_user, occurrence, **kwargs):
    """A coordinator cancels the session with the real form: the participants are notified."""
    web = TestApp(OwnContext(app))
    email, occurrence_id = make_user("coordinator").email, occurrence.id
    db.session.commit()  # end the test's read transaction: on SQLite it would block the request
    form = web.get("/auth/login").forms[0]
    form["email"], form["password"] = email, "correct horse battery"
    form.submit()
    page = web.get(f"/sessions/{occurrence_id}/cancel")
    return web.post(
        f"/sessions/{occurrence_id}/cancel",
        {"reason": "Teacher ill", "csrf_token": csrf_token_of(page)},
        **kwargs,
    )


def outbox() -> list[tuple[int, EmailStatus, int]]:
    db.session.expire_all()
    return [
        (n.user_id, n.email_status, n.email_attempts)
        for n in db.session.scalars(select(Notification).order_by(Notification.id))
    ]


def test_a_request_that_notifies_queues_the_mail_and_the_worker_sends_it(
    app, inbox, lesson, make_user
):
    occurrence = lesson["occurrence"]
    response = cancel_through_the_web(app, make_user, occurrence, status=302)
    assert response.location.endswith(f"/sessions/{occurrence.id}")
    # The request only queued the delivery job: nothing is sent until a worker runs it.
    assert queue_stats()["waiting"] == 1
    assert [status for _, status, _ in outbox()] == [EmailStatus.PENDING] * 3
    assert inbox.is_empty()
    assert run_queued_jobs() == 1

    received = sorted(inbox.take(3), key=lambda item: item[0])
    assert [rcpt for rcpt, _ in received] == [
        ["ada@school.test"], ["alice@school.test"], ["bob@school.test"],
    ]  # fmt: skip
    _, message = received[1]
    title = db.session.scalar(select(Notification.title).limit(1))
    assert "is cancelled" in title
    assert message["To"] == "Alice Martin <alice@school.test>"
    assert message["From"] == "Termtable <termtable@school.test>"
    assert message["Subject"] == title
    body = message.get_content()
    assert title in body and "Teacher ill" in body
    assert f"{BASE_URL}/sessions/{occurrence.id}" in body
    assert f"{BASE_URL}/notifications/" in body
    assert outbox() == [
        (lesson["ada"].id, EmailStatus.SENT, 1),
        (lesson["alice"].id, EmailStatus.SENT, 1),
        (lesson["bob"].id, EmailStatus.SENT, 1),
    ]
    assert inbox.is_empty()


def test_mail_goes_out_from_the_job_never_while_the_user_waits(
    app, mail_to, lesson, make_user, monkeypatch
):
    """No SMTP connection is opened by the request; the job opens it, outside any request."""
    opened = []

    class Recorder(smtplib.SMTP):
        def __init__(self, *args, **kwargs):
            opened.append(has_request_context())
            raise ConnectionRefusedError("recorded")

    monkeypatch.setattr(mail.smtplib, "SMTP", Recorder)
    mail_to(25)
    cancel_through_the_web(app, make_user, lesson["occurrence"], status=302)
    assert opened == []
    run_queued_jobs()
    assert opened == [False]


def test_a_rolled_back_change_queues_no_mail(app, inbox, lesson):
    notify(lesson["alice"].id, "x", "Never")
    db.session.rollback()
    assert queue_stats()["waiting"] == 0
    notify(lesson["alice"].id, "x", "Twice in one transaction")
    notify(lesson["bob"].id, "x", "Twice in one transaction")
    db.session.commit()
    assert queue_stats()["waiting"] == 1  # one delivery job for the transaction
    assert run_queued_jobs() == 1
    assert len(inbox.take(2)) == 2


def test_a_message_leased_to_a_live_worker_is_left_to_it(app, inbox, lesson, clock):
    """A worker holds the messages it claimed until its lease runs out: another worker does
    not send them meanwhile (no duplicate while the first is still sending)."""
    [note] = notify(lesson["alice"].id, "x", "Mine")
    db.session.commit()
    lease_until = clock.now() + timedelta(minutes=10)
    note.email_status, note.email_attempts, note.email_lease_until = (
        EmailStatus.SENDING, 1, lease_until,
    )  # fmt: skip
    db.session.commit()
    assert send_pending(now=clock.now()) == mail.MailSummary()
    assert inbox.is_empty()
    assert outbox() == [(lesson["alice"].id, EmailStatus.SENDING, 1)]


def test_a_message_whose_worker_died_is_sent_again_with_the_same_message_id(
    app, inbox, lesson, clock
):
    """At least once: a worker killed after claiming (or even after sending) leaves the row
    `sending`; once its lease has run out the next run sends it, under the Message-ID the
    first attempt used, by which mail systems recognise a duplicate."""
    [note] = notify(lesson["alice"].id, "x", "Again")
    db.session.commit()
    note.email_status, note.email_attempts = EmailStatus.SENDING, 1
    note.email_lease_until = clock.now() - timedelta(seconds=1)
    db.session.commit()
    assert send_pending(now=clock.now()) == mail.MailSummary(sent=1)
    _, message = inbox.next()
    assert message["Message-ID"] == message_id(note.id, app.config)
    assert outbox() == [(lesson["alice"].id, EmailStatus.SENT, 2)]


def test_a_message_id_is_stable_per_notification_and_distinct_between_them(app, inbox, lesson):
    first, second = notify([lesson["alice"].id, lesson["bob"].id], "x", "Ids")
    db.session.commit()
    assert message_id(first.id, app.config) == message_id(first.id, app.config)
    assert message_id(first.id, app.config) != message_id(second.id, app.config)
    assert message_id(first.id, app.config).endswith("@termtable.example.org>")
    send_pending()
    ids = sorted(message["Message-ID"] for _, message in inbox.take(2))
    assert ids == sorted(message_id(n.id, app.config) for n in (first, second))


def test_a_lease_that_ran_out_on_the_last_attempt_fails_for_good(app, inbox, lesson, clock):
    [note] = notify(lesson["alice"].id, "x", "Poison")
    db.session.commit()
    note.email_status, note.email_attempts = EmailStatus.SENDING, MAX_ATTEMPTS
    note.email_lease_until = clock.now() - timedelta(seconds=1)
    db.session.commit()
    assert send_pending(now=clock.now()) == mail.MailSummary()
    assert outbox() == [(lesson["alice"].id, EmailStatus.FAILED, MAX_ATTEMPTS)]
    assert inbox.is_empty()


def test_a_mail_server_that_is_down_marks_the_rows_failed_and_the_request_succeeds(
    app, mail_to, lesson, make_user, caplog
):
    mail_to(free_port())  # nothing listens there: connection refused
    response = cancel_through_the_web(app, make_user, lesson["occurrence"], status=302)
    assert response.follow().status_int == 200
    run_queued_jobs()
    assert [status for _, status, _ in outbox()] == [EmailStatus.FAILED] * 3
    assert [attempts for _, _, attempts in outbox()] == [1, 1, 1]
    assert "could not send 3 messages" in caplog.text


def test_failed_mail_is_retried_up_to_three_attempts(app, smtp_server, mail_to, lesson, caplog):
    controller, inbox = smtp_server
    mail_to(free_port())
    [note] = notify(lesson["alice"].id, "x", "Retry me")
    db.session.commit()
    now = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert send_pending(now=now) == mail.MailSummary(sent=0, failed=1)
        assert outbox() == [(lesson["alice"].id, EmailStatus.FAILED, attempt)]
        if attempt in mail.RETRY_AFTER:
            # Not asked again before its wait is over (1 minute, then 10).
            wait = mail.RETRY_AFTER[attempt]
            assert send_pending(now=now + wait - timedelta(seconds=1)) == mail.MailSummary()
            now += wait
    # Three failures: it is left alone, even once the server is back.
    mail_to(controller.port)
    assert send_pending(now=now + timedelta(days=1)) == mail.MailSummary()
    assert outbox() == [(lesson["alice"].id, EmailStatus.FAILED, MAX_ATTEMPTS)]
    assert inbox.is_empty()

    # A row with attempts left is retried and sent.
    db.session.get(Notification, note.id).email_attempts = 1
    db.session.commit()
    assert send_pending(now=now + timedelta(days=1)) == mail.MailSummary(sent=1)
    rcpt, message = inbox.next()
    assert rcpt == ["alice@school.test"] and message["Subject"] == "Retry me"
    assert outbox() == [(lesson["alice"].id, EmailStatus.SENT, 2)]


def test_a_notice_to_many_is_mailed_in_batches_that_workers_share(
    app, smtp_server, mail_to, lesson
):
    """250 e-mails are three delivery jobs: the first leases 100 and queues the next batch
    before it sends, so a second worker would be sending the next 100 meanwhile."""
    from services.jobs.tasks import MAIL_BATCH

    controller, inbox = smtp_server
    mail_to(controller.port)
    for n in range(250):
        notify(lesson["alice"].id, "x", f"Notice {n}")
    db.session.commit()  # queues one delivery job
    assert queue_stats()["waiting"] == 1
    assert run_queued_jobs(limit=1) == 1
    assert len(inbox.take(MAIL_BATCH)) == MAIL_BATCH
    assert queue_stats()["waiting"] == 1  # the next batch, queued before this one was sent
    assert run_queued_jobs() == 2  # 100, then 50 (not a full batch: the chain ends)
    assert len(inbox.take(150)) == 150
    assert inbox.is_empty()
    assert {status for _, status, _ in outbox()} == {EmailStatus.SENT}


def test_batches_to_a_mail_server_that_is_down_try_each_message_once(app, mail_to, lesson, caplog):
    """The chain of batches does not ask a server that is down again and again: a failed
    message waits a minute before its next attempt, so the chain ends when the waiting ones
    are all tried."""
    mail_to(free_port())  # nothing listens there
    for n in range(250):
        notify(lesson["alice"].id, "x", f"Notice {n}")
    db.session.commit()
    assert run_queued_jobs() == 3
    assert queue_stats()["waiting"] == 0
    assert {(status, attempts) for _, status, attempts in outbox()} == {(EmailStatus.FAILED, 1)}


def test_a_refused_recipient_fails_alone(app, smtp_server, mail_to, lesson):
    controller, inbox = smtp_server
    mail_to(controller.port)
    original = inbox.handle_DATA

    async def refuse_bob(server, session, envelope):
        if envelope.rcpt_tos == ["bob@school.test"]:
            return "550 No such mailbox"
        return await original(server, session, envelope)

    inbox.handle_DATA = refuse_bob
    notify([lesson["alice"].id, lesson["bob"].id, lesson["ada"].id], "x", "Hello")
    db.session.commit()
    assert send_pending() == mail.MailSummary(sent=2, failed=1)
    assert sorted(rcpt[0] for rcpt, _ in inbox.take(2)) == ["ada@school.test", "alice@school.test"]
    statuses = {user: status for user, status, _ in outbox()}
    assert statuses[lesson["bob"].id] == EmailStatus.FAILED
    assert statuses[lesson["alice"].id] == statuses[lesson["ada"].id] == EmailStatus.SENT


def test_without_a_mail_server_nothing_is_attempted(app, lesson, make_user, monkeypatch):
    def no_smtp(*args, **kwargs):
        raise AssertionError("SMTP must not be used without MAIL_SERVER")

    monkeypatch.setattr(mail.smtplib, "SMTP", no_smtp)
    assert not app.config.get("MAIL_SERVER")
    cancel_through_the_web(app, make_user, lesson["occurrence"], status=302)
    assert queue_stats()["waiting"] == 0
    run_queued_jobs()
    assert [status for _, status, _ in outbox()] == [EmailStatus.NONE] * 3
    assert send_pending() == mail.MailSummary()
    assert [status for _, status, _ in outbox()] == [EmailStatus.NONE] * 3


def test_rows_written_without_a_mail_server_are_never_mailed_later(
    app, smtp_server, mail_to, lesson
):
    controller, inbox = smtp_server
    notify(lesson["alice"].id, "x", "Before mail was set up")  # written with NONE
    db.session.commit()
    mail_to(controller.port)
    assert send_pending() == mail.MailSummary()
    assert inbox.is_empty()


def test_the_server_login_is_used_when_a_user_name_is_set(app, mail_to, lesson):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = auth_data.password == b"123456"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        # An all-digit password arrives from FLASK_MAIL_PASSWORD as a number (JSON).
        mail_to(controller.port, MAIL_USERNAME="mailer", MAIL_PASSWORD=123456)
        notify(lesson["alice"].id, "x", "Authenticated")
        db.session.commit()
        assert send_pending() == mail.MailSummary(sent=1)
        assert inbox.next()[1]["Subject"] == "Authenticated"
        assert logins == [(b"mailer", b"123456")]

        mail_to(controller.port, MAIL_USERNAME="mailer", MAIL_PASSWORD="wrong")
        notify(lesson["alice"].id, "x", "Refused")
        db.session.commit()
        assert send_pending() == mail.MailSummary(failed=1)
    finally:
        controller.stop()


def test_headers_cannot_be_injected_and_names_are_encoded(app, inbox, make_user):
    user = make_user("student", name="Zoë", email="zoe@school.test")
    # Names are refused with line breaks now; one stored before that must still be harmless.
    user.name = "Zoë\r\nBcc: x@evil.example"
    notify(user.id, "x", "Line one\r\nBcc: victim@evil.example", body="Body")
    db.session.commit()
    assert send_pending() == mail.MailSummary(sent=1)
    rcpt, message = inbox.next()
    assert rcpt == ["zoe@school.test"]
    assert message["Bcc"] is None
    assert message["Subject"] == "Line one Bcc: victim@evil.example"
    assert message["To"].addresses[0].addr_spec == "zoe@school.test"
    assert message["To"].addresses[0].display_name == "Zoë Bcc: x@evil.example"


def test_two_workers_sending_at_once_send_each_message_once(app, inbox, lesson):
    notify([lesson["alice"].id, lesson["bob"].id, lesson["ada"].id], "x", "Once")
    db.session.commit()
    start = threading.Barrier(2)
    results = []

    def worker():
        with app.app_context():
            start.wait(timeout=5)
            results.append(send_pending())
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sum(r.sent for r in results) == 3 and sum(r.failed for r in results) == 0
    assert sorted(rcpt[0] for rcpt, _ in inbox.take(3)) == [
        "ada@school.test", "alice@school.test", "bob@school.test",
    ]  # fmt: skip
    with pytest.raises(queue.Empty):
        inbox.next(timeout=0.2)
    assert [(status, attempts) for _, status, attempts in outbox()] == [(EmailStatus.SENT, 1)] * 3


def test_the_limit_caps_one_run(app, inbox, lesson):
    notify([lesson["alice"].id, lesson["bob"].id, lesson["ada"].id], "x", "Batch")
    db.session.commit()
    assert send_pending(limit=2) == mail.MailSummary(sent=2)
    assert send_pending(limit=2) == mail.MailSummary(sent=1)
    assert len(inbox.take(3)) == 3


def test_the_cli_sends_the_queue(app, inbox, lesson):
    notify([lesson["alice"].id, lesson["bob"].id], "x", "From cron")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["send-notifications"])
    assert result.exit_code == 0, result.output
    assert "Sent 2 e-mails, 0 failed." in result.output
    assert len(inbox.take(2)) == 2


def test_the_cli_reports_failures_with_a_non_zero_status(app, mail_to, lesson):
    mail_to(free_port())
    notify(lesson["alice"].id, "x", "Nobody listens")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["send-notifications"])
    assert result.exit_code == 1
    assert "Sent 0 e-mails, 1 failed." in result.output


def test_the_cli_without_a_mail_server_says_so(app):
    result = app.test_cli_runner().invoke(args=["send-notifications"])
    assert result.exit_code == 0
    assert "MAIL_SERVER is not set" in result.output


def test_notify_queues_delivery_only_when_mail_is_set_up(app, lesson, monkeypatch):
    notify(lesson["alice"].id, "x", "No mail")
    db.session.commit()
    assert queue_stats()["waiting"] == 0
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    notify([], "x", "Nobody")
    db.session.commit()
    assert queue_stats()["waiting"] == 0
    notify(lesson["alice"].id, "x", "Mail")
    db.session.commit()
    assert queue_stats()["waiting"] == 1


def test_the_email_of_a_notification_says_the_local_day_and_time(app, auckland_term, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for key, value in {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}.items():
            monkeypatch.setitem(app.config, key, value)
        after = auckland_term["after"]
        moved_to = after + timedelta(days=2)
        change = OverrideChange(new_date=moved_to, start_time=time(18), end_time=time(19))
        save_override(auckland_term["series"], after, change, actor=auckland_term["ada"], tz=AKL)
        db.session.commit()
        assert send_pending().sent == 1  # Noah (Ada made the change)
        _recipients, message = inbox.next()
    finally:
        controller.stop()
    title = f"Maths 7A on {after:%a %d %b} 08:00 moves to {moved_to:%a %d %b} 18:00"
    assert message["Subject"] == title
    assert message.get_content().splitlines()[0] == title
