"""Two app hosts behind nginx over one PostgreSQL and one Redis (tests/multihost/conftest.py):
what one host does, the other sees; limits hold across them; an e-mail is sent exactly once
by two workers; a generation queued through one host is run by a worker and followed through
the other."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date

import pytest

from tests.attachment_samples import pdf
from tests.multihost.conftest import PASSWORD
from tests.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.multihost]


def test_both_hosts_serve_the_site_behind_nginx(site):
    for base in [*site.hosts.values(), site.front]:
        status, _, body = site.request("GET", base + "/auth/login")
        assert status == 200 and "Log in" in body


def test_what_is_written_through_one_host_is_read_through_the_other(site):
    token = site.tokens["coordinator"]
    closure = {"name": "Snow day", "first_day": "2032-01-05", "last_day": "2032-01-05"}
    status, _, body = site.request("POST", site.hosts["a"] + "/api/v1/closures", closure, token)
    assert status == 201, body
    url = site.hosts["b"] + f"/api/v1/closures/{json.loads(body)['id']}"
    status, _, body = site.request("GET", url, token=token)
    assert status == 200 and json.loads(body)["name"] == "Snow day"


def test_a_file_uploaded_through_one_host_downloads_through_the_other(site):
    """No shared disk: host A stores the upload in the bucket, host B streams it back."""
    boundary = "termtable-multihost-boundary"
    content = pdf()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="plan.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    token = site.tokens["coordinator"]
    request = urllib.request.Request(  # noqa: S310 (the test's own hosts)
        site.hosts["a"] + f"/api/v1/sessions/{site.people['lesson']}/attachments",
        data=body, method="POST",
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 201
        location = response.headers["Location"]
    request = urllib.request.Request(  # noqa: S310
        site.hosts["b"] + location, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.read() == content
        assert "plan.pdf" in response.headers["Content-Disposition"]
    assert not any((site.tmp / "host-b").rglob("*.pdf"))


def _login_page(base: str) -> tuple[str, str]:
    request = urllib.request.Request(base + "/auth/login")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        page = response.read().decode()
    return cookie, re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_the_login_limit_holds_across_hosts(site):
    """Bad logins for one account, alternately through each host: the account's limit (5 a
    minute) refuses the 6th and every later one, whichever host it reaches, since both count
    in Redis."""
    statuses = []
    for attempt in range(12):
        base = site.hosts["a" if attempt % 2 else "b"]
        cookie, csrf = _login_page(base)
        body = urllib.parse.urlencode({"csrf_token": csrf, "email": "coordinator@school.test",
                                       "password": "wrong", "next": ""}).encode()  # fmt: skip
        statuses.append(_post_form(base, body, cookie))
    assert statuses[:5] == [422] * 5, statuses  # "wrong e-mail or password"
    assert statuses[5:] == [429] * 7, statuses


def _post_form(base, body, cookie):
    request = urllib.request.Request(base + "/auth/login", data=body, method="POST")  # noqa: S310
    request.add_header("Cookie", cookie)
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("X-Forwarded-For", "203.0.113.7")
    request.add_header("Origin", base)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_an_email_is_sent_exactly_once_by_two_workers(site):
    """A session cancelled through host A: its mentor and student are told, and each e-mail
    reaches the mail server once, though two workers share the queue."""
    lesson = site.people["lesson"]
    status, _, body = site.request(
        "POST", site.hosts["a"] + f"/api/v1/sessions/{lesson}/cancel", {"reason": "Ill"},
        site.tokens["coordinator"],
    )  # fmt: skip
    assert status == 200, body
    first, second = site.inbox.take(2)
    assert sorted(m["To"].addresses[0].addr_spec for m in (first, second)) == [
        "mentor@school.test", "student@school.test",
    ]  # fmt: skip
    assert first["Message-ID"] != second["Message-ID"]
    # Everything recorded sent, and nothing more arrives.
    from models import EmailStatus, Notification, db

    def all_sent():
        with site.app.app_context():
            found = set(db.session.scalars(db.select(Notification.email_status)))
            db.session.remove()
            return found == {EmailStatus.SENT}

    wait_until(all_sent, "every notification recorded sent", processes=site.processes)
    assert site.inbox.received.empty()


def test_a_generation_queued_through_one_host_is_run_and_followed_through_the_other(site):
    """Four weeks of the weekly lessons hold 20 sessions, over the hosts' limit of 10: host A
    queues it (202), a worker runs it, host B tells its progress and outcome."""
    token = site.tokens["coordinator"]
    status, headers, body = site.request(
        "POST", site.hosts["a"] + "/api/v1/generate",
        {"start": date(2031, 1, 6).isoformat(), "weeks": 4}, token,
    )  # fmt: skip
    assert status == 202, body
    location = site.hosts["b"] + headers["Location"]

    def finished():
        status, _, body = site.request("GET", location, token=token)
        assert status == 200, body
        return json.loads(body)["status"] in ("done", "failed")

    wait_until(finished, "the run to finish", processes=site.processes)
    run = json.loads(site.request("GET", location, token=token)[2])
    assert run["status"] == "done" and run["summary"]["created"] == 20, run


def _logged_in_cookie(base: str, email: str) -> str:
    cookie, csrf = _login_page(base)
    body = urllib.parse.urlencode(
        {"csrf_token": csrf, "email": email, "password": PASSWORD, "next": ""}
    ).encode()
    request = urllib.request.Request(base + "/auth/login", data=body, method="POST")  # noqa: S310
    request.add_header("Cookie", cookie)
    request.add_header("Content-Type", "application/x-www-form-urlencoded")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(request, timeout=30)
    except urllib.error.HTTPError as err:  # the 302 after a login
        assert err.code == 302, err.read()
        return "; ".join(c.split(";", 1)[0] for c in err.headers.get_all("Set-Cookie"))
    raise AssertionError("the login did not redirect")


def test_a_change_through_one_host_reaches_a_user_streaming_from_the_other(site):
    """The student streams from host B; a coordinator cancels their session through host A:
    the notification's event arrives on the stream (Redis wakes host B's listener)."""
    cookie = _logged_in_cookie(site.hosts["b"], "student@school.test")
    request = urllib.request.Request(  # noqa: S310 (the test's own hosts)
        site.hosts["b"] + "/events/stream", headers={"Cookie": cookie}
    )
    stream = urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert stream.headers["Content-Type"].startswith("text/event-stream"), stream.url
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        try:
            for raw in stream:
                lines.put(raw.decode().rstrip("\n"))
        except (OSError, ValueError, AttributeError):  # the test closed the stream under it
            return

    threading.Thread(target=read, daemon=True).start()
    try:
        assert _next_event(lines, 10) == "live-ready"  # connected, nothing missed yet
        status, _, body = site.request(
            "POST", site.hosts["a"] + f"/api/v1/sessions/{site.people['second_lesson']}/cancel",
            {"reason": "Trip"}, site.tokens["coordinator"],
        )  # fmt: skip
        assert status == 200, body
        assert _next_event(lines, 10) == "notification-arrived"
    finally:
        stream.close()


def _next_event(lines: queue.Queue, deadline: float) -> str:
    """The name of the next event on the stream (comments and data lines skipped)."""
    end = time.monotonic() + deadline
    while True:
        line = lines.get(timeout=max(0.1, end - time.monotonic()))
        if line.startswith("event:"):
            return line.split(":", 1)[1].strip()
