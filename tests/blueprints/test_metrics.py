"""/metrics: Prometheus text with each route's latency histogram, requests in progress,
e-mail failures and the job queue's gauges; readable from allowed networks or with the
bearer token only (404 for anyone else). Multi-process (gunicorn) in tests/test_gunicorn_ops.py."""

from __future__ import annotations

import sys
import time

import pytest
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families

from app import ConfigurationError, create_app
from models import db
from services.jobs.queue import enqueue, jobs, run_queued_jobs
from services.jobs.tasks import expire_requests
from services.notifications.inbox import notify
from services.notifications.mail import MailSummary, send_pending
from tests.conftest import browser, make_app
from tests.services.test_mail import Inbox, free_port

TOKEN = "scrape-token-0123456789"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
OUTSIDE = {"REMOTE_ADDR": "203.0.113.5"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(
        tmp_path_factory, METRICS_TOKEN=TOKEN, METRICS_ALLOW="127.0.0.1/32, ::1, 10.1.0.0/16"
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def scrape(web, environ=LOCAL, **kwargs) -> dict:
    """{(sample name, frozenset of labels): value} of one scrape."""
    response = web.get("/metrics", extra_environ=environ, **kwargs)
    assert response.content_type == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_of(samples, route, method="GET", status="2xx") -> float:
    return value(
        samples,
        "termtable_http_request_duration_seconds_count",
        route=route,
        method=method,
        status=status,
    )


# --- Latency by route --------------------------------------------------------------------------


def test_a_request_is_counted_in_its_routes_histogram(web, login_as, make_user):
    before = scrape(web)
    web.get("/auth/login")
    web.get("/auth/login")
    login_as(make_user("mentor"))  # GET the login page, POST it (302)
    web.get("/sessions/424242", status=404)
    web.get("/no/such/page/424242", status=404)
    after = scrape(web)
    assert requests_of(after, "/auth/login") - requests_of(before, "/auth/login") == 3
    assert (
        requests_of(after, "/auth/login", "POST", "3xx")
        - requests_of(before, "/auth/login", "POST", "3xx")
        == 1
    )
    route = "/sessions/<id:occurrence_id>"
    assert requests_of(after, route, status="4xx") - requests_of(before, route, status="4xx") == 1
    assert (
        requests_of(after, "<unmatched>", status="4xx")
        - requests_of(before, "<unmatched>", status="4xx")
        == 1
    )
    # No series per URL: the ids never become labels.
    assert not any("424242" in str(labels) for _, labels in after)
    # Buckets, cumulative, up to +Inf (which holds every request of the route).
    bucket = "termtable_http_request_duration_seconds_bucket"
    labels = {"route": "/auth/login", "method": "GET", "status": "2xx"}
    assert value(after, bucket, le="+Inf", **labels) == requests_of(after, "/auth/login")
    assert value(after, bucket, le="0.3", **labels) <= value(after, bucket, le="+Inf", **labels)
    assert value(after, "termtable_http_request_duration_seconds_sum", **labels) > 0


def test_requests_in_progress_counts_the_scrape_itself(web):
    assert value(scrape(web), "termtable_http_requests_in_progress") == 1
    assert value(scrape(web), "termtable_http_requests_in_progress") == 1


def test_an_unknown_method_is_one_label_for_all(app, web):
    before = scrape(web)
    # (WebTest refuses to send it.)
    assert app.test_client().open("/auth/login", method="BREW").status_code == 405
    after = scrape(web)
    assert (
        requests_of(after, "<unmatched>", "other", "4xx")
        - requests_of(before, "<unmatched>", "other", "4xx")
        == 1
    )


# --- Who may read it -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        LOCAL,
        {"REMOTE_ADDR": "::1"},
        {"REMOTE_ADDR": "::ffff:127.0.0.1"},
        {"REMOTE_ADDR": "10.1.7.9"},
    ],
    ids=["127.0.0.1", "::1", "ipv4-mapped", "allowed-network"],
)
def test_allowed_networks_read_the_metrics(web, environ):
    assert "termtable_http_request_duration_seconds" in str(scrape(web, environ))


@pytest.mark.parametrize(
    ("environ", "headers"),
    [
        (OUTSIDE, {}),
        ({"REMOTE_ADDR": "10.2.0.1"}, {}),
        (OUTSIDE, {"Authorization": "Bearer wrong-token"}),
        (OUTSIDE, {"Authorization": f"Basic {TOKEN}"}),
        # Through a proxy the app does not trust (TRUSTED_PROXIES=0), the client is not local.
        (LOCAL, {"X-Forwarded-For": "198.51.100.4"}),
        ({}, {}),  # no address at all
    ],
    ids=["outside", "other-network", "wrong-token", "not-bearer", "untrusted-proxy", "no-address"],
)
def test_anyone_else_finds_nothing_there(web, login_as, make_user, environ, headers):
    response = web.get("/metrics", headers=headers, extra_environ=environ, status=404)
    assert "termtable_" not in response.text
    # Signed in makes no difference: it is not a page for people.
    login_as(make_user("admin"))
    response = web.get("/metrics", headers=headers, extra_environ=environ, status=404)
    assert "termtable_" not in response.text


def test_the_bearer_token_reads_the_metrics_from_anywhere(web):
    samples = scrape(web, OUTSIDE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert value(samples, "termtable_http_requests_in_progress") == 1


def test_without_a_token_only_the_networks_may(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "METRICS_ALLOW": "",
            "JOBS_URL": "memory://",
        }
    )
    with app.app_context():
        client = browser(app)
        client.get("/metrics", extra_environ=LOCAL, status=404)
        client.get(
            "/metrics", headers={"Authorization": "Bearer "}, extra_environ=LOCAL, status=404
        )


def test_a_network_that_cannot_be_read_is_a_start_up_error():
    with pytest.raises(ConfigurationError, match=r"METRICS_ALLOW='10\.0\.0\.300/8'"):
        create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "METRICS_ALLOW": "10.0.0.300/8",
                "JOBS_URL": "memory://",
            }
        )


# --- E-mail failures ----------------------------------------------------------------------------


def email_failures(web, reason: str) -> float:
    return value(scrape(web), "termtable_email_failures_total", reason=reason)


@pytest.fixture
def mail_server(app, monkeypatch):
    """Point the app at a mail server on `port`, for this test."""

    def point_to(port: int) -> None:
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)

    return point_to


def test_email_that_cannot_be_sent_is_counted_by_reason(web, mail_server, make_user):
    samples = scrape(web)
    for reason in ("refused", "connection", "error"):  # each there (0) from the start
        assert ("termtable_email_failures_total", frozenset({("reason", reason)})) in samples
    before = email_failures(web, "connection")
    mail_server(free_port())  # nothing listens there
    notify([make_user().id, make_user().id], "x", "Your session moved")
    db.session.commit()
    assert send_pending() == MailSummary(failed=2)
    assert email_failures(web, "connection") - before == 2


def test_a_refused_recipient_is_counted_and_the_others_are_not(web, mail_server, make_user):
    inbox = Inbox()
    original = inbox.handle_DATA

    async def refuse_bob(server, session, envelope):
        if envelope.rcpt_tos == ["bob@school.test"]:
            return "550 No such mailbox"
        return await original(server, session, envelope)

    inbox.handle_DATA = refuse_bob
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail_server(controller.port)
        before = {reason: email_failures(web, reason) for reason in ("refused", "connection")}
        notify([make_user(email="bob@school.test").id, make_user().id], "x", "Hello")
        db.session.commit()
        assert send_pending() == MailSummary(sent=1, failed=1)
    finally:
        controller.stop()
    assert email_failures(web, "refused") - before["refused"] == 1
    assert email_failures(web, "connection") == before["connection"]


# --- The job queue -------------------------------------------------------------------------------


def test_the_queue_depth_and_the_oldest_jobs_age_are_read_at_each_scrape(web):
    samples = scrape(web)
    assert value(samples, "termtable_job_queue_up") == 1
    assert value(samples, "termtable_job_queue_depth") == 0
    assert value(samples, "termtable_job_queue_oldest_age_seconds") == 0
    # Two jobs queued, the first a minute and a half ago (as a worker that is behind sees it).
    expire_requests(enqueued_at=time.time() - 90)
    enqueue(expire_requests)
    samples = scrape(web)
    assert value(samples, "termtable_job_queue_depth") == 2
    assert 90 <= value(samples, "termtable_job_queue_oldest_age_seconds") < 90 + 60
    assert run_queued_jobs() == 2
    samples = scrape(web)
    assert value(samples, "termtable_job_queue_depth") == 0
    assert value(samples, "termtable_job_queue_oldest_age_seconds") == 0


def test_a_queue_that_cannot_be_read_says_so_and_the_scrape_still_answers(web, caplog):
    jobs.use_storage(f"redis://127.0.0.1:{free_port()}/10")  # a Redis queue that is down
    samples = scrape(web)
    assert value(samples, "termtable_job_queue_up") == 0
    assert ("termtable_job_queue_depth", frozenset()) not in samples
    assert value(samples, "termtable_http_requests_in_progress") == 1
    assert "the job queue could not be read" in caplog.text


def test_without_the_job_queue_module_no_queue_gauge_is_reported(web, monkeypatch):
    monkeypatch.setitem(sys.modules, "services.jobs.queue", None)  # as if it were not there
    assert not any(name.startswith("termtable_job_queue") for name, _ in scrape(web))
