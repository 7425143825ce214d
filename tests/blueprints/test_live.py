"""Live updates: the event log written with each change, and `/events/stream` (Server-Sent
Events) replaying and following it for the signed-in user only.

The stream is read whole by WebTest, so it is bounded here: by LIVE_STREAM_UNTIL_CAUGHT_UP
(it ends once it has sent what is stored) or by LIVE_STREAM_MAX_EVENTS / LIVE_STREAM_SECONDS.
"""

from __future__ import annotations

import re
import threading
import time as time_module
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from models import LiveEvent, MentorSubject, db
from services.live.events import (
    EVERYONE,
    NOTIFICATION,
    REQUESTS,
    SESSIONS,
    STAFF,
    latest_event_id,
    prune_events,
    publish,
)
from services.live.hub import stop_hub
from services.notifications.inbox import notify
from services.requests.lifecycle import RequestInput, create_request
from tests.conftest import PINNED_TODAY, make_app
from tests.processes import wait_until

EVENT = re.compile(r"id: (\d+)\nevent: ([\w:-]+)\ndata: (.*)\n\n")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory, LIVE_STREAM_UNTIL_CAUGHT_UP=True, LIVE_RETRY_MS=1500)
    yield app
    stop_hub(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_hub(app):
    """Each test's tables start empty, so ids start again: a hub kept from an earlier test
    would hold that test's events."""
    yield
    stop_hub(app)


def events_in(body: str) -> list[tuple[int, str, str]]:
    return [(int(i), kind, data) for i, kind, data in EVENT.findall(body)]


def stream(web, *, last=None, after=None, status=200):
    headers = {"Last-Event-ID": str(last)} if last is not None else {}
    url = "/events/stream" + (f"?after={after}" if after is not None else "")
    return web.get(url, headers=headers, status=status)


def newest_id() -> int:
    return db.session.scalar(select(LiveEvent.id).order_by(LiveEvent.id.desc()).limit(1)) or 0


def test_the_stream_is_server_sent_events_with_ids_kinds_and_a_retry_hint(web, login_as):
    mentor = login_as("mentor")
    start = newest_id()
    notify(mentor.id, "session_cancelled", "Maths on Monday is cancelled")
    db.session.commit()

    response = stream(web, last=start)

    assert response.content_type == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.text.startswith("retry: 1500\nevent: live-ready\ndata: {}\n\n")
    [(event_id, kind, data)] = events_in(response.text)
    assert (kind, data) == (NOTIFICATION, "{}")
    assert event_id == newest_id() > start


def test_reconnecting_with_last_event_id_replays_everything_after_it_and_nothing_before(
    web, login_as
):
    mentor = login_as("mentor")
    ids = []
    for n in range(4):
        publish(NOTIFICATION, {"n": n}, users=mentor.id)
        db.session.commit()
        ids.append(newest_id())

    replayed = events_in(stream(web, last=ids[1]).text)

    assert [(i, data) for i, _, data in replayed] == [(ids[2], '{"n":2}'), (ids[3], '{"n":3}')]
    # The page's first connection says where it was drawn (?after=); the header wins.
    assert [i for i, _, _ in events_in(stream(web, after=ids[2]).text)] == [ids[3]]
    assert [i for i, _, _ in events_in(stream(web, last=ids[0], after=ids[2]).text)] == ids[1:]
    # Caught up, or no position at all: nothing is replayed (a new page starts from now).
    assert events_in(stream(web, last=ids[3]).text) == []
    assert events_in(stream(web).text) == []
    assert events_in(stream(web, last="not-a-number").text) == []


def test_a_user_never_receives_another_users_events(web, login_as, make_user):
    me = login_as("student")
    other = make_user("student")
    coordinator = make_user("coordinator")
    start = newest_id()
    publish(NOTIFICATION, {"for": "other"}, users=other.id)
    publish(SESSIONS, {"sessions": [1]}, audience=STAFF)
    publish(NOTIFICATION, {"for": "me"}, users=me.id)
    publish(NOTIFICATION, {"for": "everyone"}, audience=EVERYONE)
    db.session.commit()

    mine = events_in(stream(web, last=start).text)

    assert [data for _, _, data in mine] == ['{"for":"me"}', '{"for":"everyone"}']
    # Staff get the staff audience's events, and still not another user's.
    web.reset()
    login_as(coordinator)
    theirs = events_in(stream(web, last=start).text)
    assert [kind for _, kind, _ in theirs] == [SESSIONS, NOTIFICATION]
    assert '{"for":"other"}' not in str(theirs)


def test_a_rolled_back_change_publishes_nothing(web, login_as):
    mentor = login_as("mentor")
    start = newest_id()
    notify(mentor.id, "session_cancelled", "Never happened")
    db.session.rollback()

    assert newest_id() == start
    assert events_in(stream(web, last=start).text) == []


def test_a_new_request_reaches_the_mentors_bell_and_pending_list(
    web, login_as, make_user, make_group
):
    mentor = make_user("mentor")
    group = make_group(mentor=mentor)
    db.session.add(MentorSubject(mentor_id=mentor.id, subject_id=group.subject_id))
    student = make_user("student")
    db.session.commit()
    start = newest_id()
    data = RequestInput(
        mentor_id=mentor.id,
        subject_id=group.subject_id,
        title="Help with fractions",
        schedule_kind="single",
        day=PINNED_TODAY + timedelta(days=7),
        start=time(17),
        duration=60,
    )
    create_request(student, data, tz=group_tz())
    db.session.commit()

    login_as(mentor)
    kinds = [kind for _, kind, _ in events_in(stream(web, last=start).text)]
    assert sorted(kinds) == [NOTIFICATION, REQUESTS]


def group_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Paris")


def test_a_session_changed_anywhere_is_told_to_staff_with_its_id(
    web, login_as, make_session, make_user
):
    session = make_session()
    start = newest_id()
    session.room_id = None
    db.session.commit()

    login_as("coordinator")
    [(_, kind, data)] = events_in(stream(web, last=start).text)
    assert (kind, data) == (SESSIONS, f'{{"sessions":[{session.id}]}}')
    # Nobody else hears of it as such (the people taking part are notified).
    web.reset()
    login_as("mentor")
    assert events_in(stream(web, last=start).text) == []


def test_events_pruned_since_the_browser_left_ask_it_to_refetch_everything(web, login_as, clock):
    me = login_as("mentor")
    publish(NOTIFICATION, users=me.id)
    db.session.commit()
    start = newest_id()  # the browser's last event
    for _ in range(3):
        publish(NOTIFICATION, users=me.id)
    db.session.commit()
    removed = prune_events(keep=timedelta(hours=1), now=datetime.now(UTC) + timedelta(hours=2))
    db.session.commit()

    assert removed == 3  # the newest event is kept, as a landmark
    [(event_id, kind, _)] = events_in(stream(web, last=start).text)
    assert (event_id, kind) == (newest_id(), "resync")
    with pytest.raises(ValueError, match="positive"):
        prune_events(keep=timedelta(0))


def test_anonymous_visitors_get_no_stream(web):
    response = web.get("/events/stream", status=302)
    assert "/auth/login" in response.headers["Location"]
    fragment = web.get("/events/stream", headers={"HX-Request": "true"}, status=401)
    assert "/auth/login" in fragment.headers["HX-Redirect"]


def test_pages_connect_to_the_stream_from_the_newest_event(web, login_as):
    me = login_as("mentor")
    publish(NOTIFICATION, users=me.id)
    db.session.commit()

    page = web.get("/sessions/today/")

    live = page.html.find(id="live-events")
    assert live["hx-sse:connect"] == f"/events/stream?after={newest_id()}"
    bell = page.html.find(id="notification-bell")
    assert "notification-arrived from:body" in bell["hx-trigger"]
    assert "every 10s" in bell["hx-trigger"] and bell.has_attr("data-live-poll")
    assert "sessions-changed from:body" in page.html.find(id="today-board")["hx-trigger"]
    scripts = [s["src"] for s in page.html.find_all("script")]
    assert scripts.index("/static/vendor/hx-sse-4.0.1.min.js") == (
        scripts.index("/static/vendor/htmx-4.0.1.min.js") + 1
    )


# --- Following: the stream stays open and sends what is committed meanwhile -------------------


def test_a_following_stream_sends_an_event_committed_while_it_waits(app, web, login_as):
    me_id = login_as("mentor").id
    start = newest_id()
    # The test's own transaction (BEGIN IMMEDIATE outside a request) would hold up the writer.
    db.session.commit()
    app.config.update(LIVE_STREAM_UNTIL_CAUGHT_UP=False, LIVE_STREAM_MAX_EVENTS=1)
    app.config["LIVE_STREAM_SECONDS"] = 20

    def publish_once_following():
        deadline = time_module.monotonic() + 10
        while "live_hub" not in app.extensions and time_module.monotonic() < deadline:
            time_module.sleep(0.01)
        with app.app_context():
            publish(NOTIFICATION, {"live": True}, users=me_id)
            db.session.commit()
            db.session.remove()

    writer = threading.Thread(target=publish_once_following)
    writer.start()
    try:
        began = time_module.monotonic()
        body = stream(web, last=start).text
        waited = time_module.monotonic() - began
    finally:
        writer.join()
        app.config.update(LIVE_STREAM_UNTIL_CAUGHT_UP=True, LIVE_STREAM_MAX_EVENTS=None)
        app.config["LIVE_STREAM_SECONDS"] = None

    [(_, kind, data)] = events_in(body)
    assert (kind, data) == (NOTIFICATION, '{"live":true}')
    assert waited < 10  # woken by the commit, not by the end of the stream


def test_a_quiet_stream_sends_heartbeats_and_ends_after_its_time(app, web, login_as):
    login_as("mentor")
    app.config.update(
        LIVE_STREAM_UNTIL_CAUGHT_UP=False, LIVE_STREAM_SECONDS=0.5, LIVE_HEARTBEAT_SECONDS=0.1
    )
    try:
        body = stream(web).text
    finally:
        app.config.update(
            LIVE_STREAM_UNTIL_CAUGHT_UP=True, LIVE_STREAM_SECONDS=None, LIVE_HEARTBEAT_SECONDS=None
        )

    assert ": keep-alive\n\n" in body
    assert events_in(body) == []


# --- The week grid: only the touched cells ------------------------------------------------------


def test_the_grid_redraws_only_the_cells_a_change_elsewhere_touched(
    web, login_as, make_session, clock
):
    from zoneinfo import ZoneInfo

    from services.timetable.schedule.layout import time_cell_id

    paris = ZoneInfo("Europe/Paris")
    login_as("coordinator")
    moved = make_session(start=datetime.combine(PINNED_TODAY, time(14), tzinfo=paris))
    make_session(start=datetime.combine(PINNED_TODAY, time(16), tzinfo=paris))
    page = web.get(f"/schedule/?date={PINNED_TODAY}")
    live_url = page.html.find(id="schedule")["data-live-cells"]
    assert live_url.startswith("/schedule/live-cells?")
    old_cell = time_cell_id(PINNED_TODAY, 14)
    assert page.html.find(id=old_cell).find(id=f"session-card-{moved.id}")

    # Someone else moves it to 10:00 the next day: the page asks for its cell now and the one
    # it was in (static/app.js reads that from the page).
    moved.start_utc += timedelta(days=1, hours=-4)
    moved.end_utc += timedelta(days=1, hours=-4)
    db.session.commit()
    response = web.get(f"{live_url}&session={moved.id}&cell={old_cell}")

    cells = response.html.select(".cell")
    new_cell = time_cell_id(PINNED_TODAY + timedelta(days=1), 10)
    assert sorted(c["id"] for c in cells) == sorted([old_cell, new_cell])
    assert response.html.find(id=new_cell).find(id=f"session-card-{moved.id}")
    assert not response.html.find(id=old_cell).find("article")  # left empty
    assert "cell-" + f"{PINNED_TODAY:%Y%m%d}-16" not in response.text  # untouched cells stay
    # A session that is not on this grid, from a cell it does not have: nothing to redraw.
    web.get(f"{live_url}&session=999999&cell=nowhere", status=204)


# --- Redis pub/sub: the wake-up between processes and hosts ---------------------------------

REDIS_URL = "redis://127.0.0.1:6379/11"


def redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


def test_a_commit_that_published_events_wakes_other_processes_through_redis(
    app, make_user, monkeypatch
):
    from services.live.hub import LIVE_CHANNEL

    client = redis_or_skip()
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    subscriber = client.pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(LIVE_CHANNEL)
    try:
        user = make_user("mentor")
        assert subscriber.get_message(timeout=0.2) is None  # no event, no wake-up
        notify(user.id, "session_cancelled", "Maths is cancelled")
        db.session.commit()
        message = subscriber.get_message(timeout=5)
    finally:
        subscriber.close()
    assert message is not None and message["channel"] == LIVE_CHANNEL.encode()


def test_a_hub_hears_events_committed_by_another_process_through_redis(app, make_user):
    """Nothing in this process says the event was committed (a raw insert, as another host's
    would look from here): only the Redis message wakes the hub, well before its safety poll."""
    from services.live.hub import LIVE_CHANNEL, Hub

    client = redis_or_skip()
    user_id = make_user("mentor").id
    db.session.commit()  # the test's own transaction would hold SQLite's write lock
    hub = Hub(db.engine, poll_seconds=60, redis=REDIS_URL)
    try:
        # The subscription is made in the hub's thread, which then reads the table once.
        assert hub.subscribed.wait(timeout=30), "the hub did not subscribe"
        wait_until(lambda: not hub._wake.is_set(), "the hub's read after subscribing")
        start = hub.cursor
        with db.engine.begin() as connection:
            connection.execute(
                LiveEvent.__table__.insert().values(
                    user_id=user_id, kind=NOTIFICATION, payload={}, created_at=datetime.now(UTC)
                )
            )
        began = time_module.monotonic()
        client.publish(LIVE_CHANNEL, b"1")
        found = hub.follow(start, timeout=10)
        waited = time_module.monotonic() - began
    finally:
        hub.stop()
    assert [e.user_id for e in found] == [user_id]
    assert waited < 5


def test_event_ids_follow_commit_order_on_postgresql(app, make_user):
    """A transaction that inserted its event first but commits last still gets the higher id:
    a stream that has passed the other one's id would otherwise never send it."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writers are serialised: ids are given in commit order anyway")
    first_id, second_id = make_user("mentor").id, make_user("mentor").id
    db.session.commit()
    publish(NOTIFICATION, {"n": "first"}, users=first_id)  # inserted first, committed last

    def commit_another():
        with app.app_context():
            publish(NOTIFICATION, {"n": "second"}, users=second_id)
            db.session.commit()
            db.session.remove()

    other = threading.Thread(target=commit_another)
    other.start()
    other.join(timeout=30)
    db.session.commit()

    rows = db.session.execute(select(LiveEvent.payload).order_by(LiveEvent.id)).scalars().all()
    assert rows == [{"n": "second"}, {"n": "first"}]


def test_the_vendored_sse_extension_is_htmx_4_0_1s():
    """static/vendor/hx-sse-4.0.1.min.js is dist/ext/hx-sse.min.js of the npm package
    htmx.org 4.0.1, unchanged."""
    import hashlib
    from pathlib import Path

    data = (Path(__file__).parents[2] / "static/vendor/hx-sse-4.0.1.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "18ef2761356ec1fe0bb6d92612315b37517a7c1e9856b661c5ae81fef239d103"
    )


def test_a_stream_behind_what_the_hub_keeps_reads_the_table_instead(app, make_user, monkeypatch):
    """The hub keeps the recent events only: `follow` says None to a stream further behind
    (it then replays from the table), and gives a stream within them the events after it."""
    import services.live.hub as hub_module

    monkeypatch.setattr(hub_module, "BUFFER_EVENTS", 2)
    user_id = make_user("mentor").id
    db.session.commit()
    hub = hub_module.Hub(db.engine, poll_seconds=60)
    try:
        ids = []
        for n in range(6):
            publish(NOTIFICATION, {"n": n}, users=user_id)
            db.session.commit()  # wakes the hub, which reads it
            # Read once committed: on PostgreSQL an event is numbered at its commit.
            ids.append(latest_event_id())
            assert hub.follow(ids[-1] - 1, timeout=5)[-1].id == ids[-1]
        assert [e.payload for e in hub.follow(ids[4], timeout=0)] == [{"n": 5}]
        assert hub.follow(ids[0], timeout=0) is None
    finally:
        hub.stop()
