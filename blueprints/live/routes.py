"""`/events/stream`: a signed-in user's live events as Server-Sent Events (htmx's `hx-sse`
extension reads them; templates/base.html connects).

Each event is `id:` (its id in `live_event`), `event:` (its kind, which the page receives as a
DOM event of that name) and `data:` (a small JSON payload: what to refetch). A browser that
reconnects sends the last id it saw (`Last-Event-ID`) and gets every event after it first; the
first connection of a page sends `?after=` the newest id when the page was drawn. A comment
every LIVE_HEARTBEAT_SECONDS keeps proxies from closing a quiet stream (and finds a gone
browser), and the stream ends after LIVE_STREAM_SECONDS so that server threads are recycled:
the browser reconnects after the `retry:` hint, losing nothing.

The stream holds no database transaction while it waits: the replay is one short read, then
it follows the process's hub (services/live/hub.py).
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import DBAPIError

from models import db
from services.common.numbers import whole_number
from services.live.events import (
    RESYNC,
    SIGNED_OUT,
    Event,
    audiences_of,
    events_after,
    is_for,
    latest_event_id,
    oldest_event_id,
    reading,
)
from services.live.hub import hub_for

bp = Blueprint("live", __name__, url_prefix="/events", cli_group=None)

STREAM_SECONDS = 300
HEARTBEAT_SECONDS = 15
RETRY_MS = 1000
REPLAY_BATCH = 500


@bp.app_template_global("live_stream_url")
def live_stream_url() -> str:
    """The stream's URL for a page being drawn: its events start after the newest one now
    (what happens while the page loads is not missed)."""
    try:
        return url_for("live.stream", after=latest_event_id())
    except DBAPIError:
        # An error page drawn because the database is away: the stream starts from its
        # connection instead.
        return url_for("live.stream")


def _setting(name: str, default):
    value = current_app.config.get(name)
    return default if value is None else value


def _event_id(raw: str | None) -> int | None:
    return whole_number(raw.strip(), 2**63 - 1) if raw and raw.strip() else None


@bp.get("/stream")
@login_required
def stream():
    app = current_app._get_current_object()
    engine = db.engine
    after = _event_id(request.headers.get("Last-Event-ID"))
    if after is None:
        after = _event_id(request.args.get("after"))
    stream = _Stream(
        engine,
        user_id=current_user.id,
        audiences=audiences_of(current_user),
        after=after,
        seconds=float(_setting("LIVE_STREAM_SECONDS", STREAM_SECONDS)),
        heartbeat=float(_setting("LIVE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)),
        retry_ms=int(_setting("LIVE_RETRY_MS", RETRY_MS)),
        max_events=_setting("LIVE_STREAM_MAX_EVENTS", None),
        until_caught_up=bool(_setting("LIVE_STREAM_UNTIL_CAUGHT_UP", False)),
        # The hub is found once the stream runs: the request's own connection is back in
        # the pool by then (500 streams opening at once must not hold 500 connections).
        hub=None
        if _setting("LIVE_STREAM_UNTIL_CAUGHT_UP", False)
        else (lambda: hub_for(app, engine)),
    )
    # The login check's transaction ends with the request (Flask-SQLAlchemy's teardown), before
    # the first event is read: the stream itself uses short reads of its own.
    return Response(
        stream.lines(),
        mimetype="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            # nginx passes each event on at once instead of buffering the response.
            "X-Accel-Buffering": "no",
        },
    )


def format_event(event: Event) -> str:
    data = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


class _Stream:
    def __init__(
        self, engine, *, user_id, audiences, after, seconds, heartbeat, retry_ms, max_events,
        until_caught_up, hub,
    ):  # fmt: skip
        self.engine = engine
        self.user_id = user_id
        self.audiences = audiences
        self.after = after
        self.seconds = seconds
        self.heartbeat = heartbeat
        self.retry_ms = retry_ms
        self.max_events = max_events
        self.until_caught_up = until_caught_up
        self.hub = hub
        self.sent = 0

    def lines(self):
        deadline = time.monotonic() + self.seconds
        # The retry hint rides on a first event (htmx reads `retry:` only with one); the page
        # knows from it that the stream is up.
        yield f"retry: {self.retry_ms}\nevent: live-ready\ndata: {{}}\n\n"
        cursor, first = self._start()
        for text in first:
            yield text
            self.sent += 1
            if self._enough():
                return
        if cursor is None or self.until_caught_up:
            return
        # Started now if it is the process's first stream: from the newest event then, so a
        # stream behind it reads the table first (`follow` answers None).
        self.hub = self.hub()
        next_beat = time.monotonic() + self.heartbeat
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            found = self.hub.follow(cursor, max(0.0, min(deadline, next_beat) - now))
            if found is None:  # fell behind what the hub keeps: read the table
                cursor, texts = self._replay(cursor)
                found = []
                for text in texts:
                    yield text
                    self.sent += 1
                    if self._enough():
                        return
            for event in found:
                cursor = event.id
                if is_for(event, self.user_id, self.audiences):
                    yield format_event(event)
                    self.sent += 1
                    if self._enough() or event.kind == SIGNED_OUT:
                        return
            if time.monotonic() >= next_beat:
                yield ": keep-alive\n\n"
                next_beat = time.monotonic() + self.heartbeat

    def _enough(self) -> bool:
        return self.max_events is not None and self.sent >= self.max_events

    def _start(self) -> tuple[int | None, list[str]]:
        """Where to follow from, and what to send first: the events after the browser's last
        one (or `resync` if some were pruned since)."""
        with reading(self.engine) as connection:
            newest = latest_event_id(connection)
            after = self.after
            if after is None or after >= newest:
                return newest, []
            oldest = oldest_event_id(connection)
            # (0: the page was drawn before any event; pruning always keeps the newest.)
            if oldest is not None and 0 < after < oldest - 1:
                return newest, [format_event(Event(newest, self.user_id, None, RESYNC, {}))]
        return self._replay(after, upto=newest)

    def _replay(self, after: int, upto: int | None = None) -> tuple[int, list[str]]:
        """This user's events after `after` (up to `upto`, the newest id when it began: ids
        below a committed one are all committed, see services/live/events.py), in batches of
        one short read each."""
        texts = []
        cursor = after
        while True:
            with reading(self.engine) as connection:
                if upto is None:
                    upto = latest_event_id(connection)
                found = events_after(
                    connection,
                    cursor,
                    user_id=self.user_id,
                    audiences=self.audiences,
                    limit=REPLAY_BATCH,
                )
            batch = [e for e in found if e.id <= upto]
            texts.extend(format_event(e) for e in batch)
            if len(batch) < REPLAY_BATCH:
                return upto, texts
            cursor = batch[-1].id
