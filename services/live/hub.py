"""One listener per process for every stream it serves: a thread that reads the new events
(all recipients, one primary-key range read) when woken, keeps the recent ones in memory, and
wakes the streams, which pick their own. 500 streams cost one read per change, not 500.

It is woken
- by Redis pub/sub when REDIS_URL (FLASK_REDIS_URL) is set: a commit that published events
  publishes a wake-up on LIVE_CHANNEL; every process of every host hears it at once (and
  still reads the table every LIVE_SAFETY_POLL_SECONDS, should a message be lost);
- otherwise by reading the table every LIVE_POLL_SECONDS (about 1 s), plus at once by a commit
  in its own process.
The table is the truth either way: a wake-up carries nothing, so a lost one delays, and
never loses, an event.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from bisect import bisect_right

from flask import current_app, has_app_context

from services.live.events import Event, events_after, latest_event_id, reading

log = logging.getLogger(__name__)

LIVE_CHANNEL = "termtable:live-events"
BUFFER_EVENTS = 10_000
POLL_SECONDS = 1.0
SAFETY_POLL_SECONDS = 5.0

_hubs: weakref.WeakSet[Hub] = weakref.WeakSet()
_redis_clients: dict[str, object] = {}
_lock = threading.Lock()


def redis_url(config) -> str | None:
    """FLASK_REDIS_URL (as REDIS_URL in the config), else REDIS_URL from the environment."""
    return config.get("REDIS_URL") or os.environ.get("REDIS_URL") or None


def _redis(url: str):
    with _lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
            _redis_clients[url] = client
        return client


def wake_after_commit() -> None:
    """Events were committed: wake this process's hubs, and every other process's through
    Redis when configured. A Redis failure only delays the others (their safety poll)."""
    for hub in list(_hubs):
        hub.wake()
    url = redis_url(current_app.config) if has_app_context() else os.environ.get("REDIS_URL")
    if url:
        try:
            _redis(url).publish(LIVE_CHANNEL, b"1")
        except Exception as error:
            log.warning("Live events: could not publish a wake-up to Redis (%s)", error)


class Hub:
    def __init__(self, engine, *, poll_seconds: float, redis: str | None = None):
        self._engine = engine
        self._poll = poll_seconds
        self._redis_url = redis
        self._wake = threading.Event()
        self._changed = threading.Condition()
        # The recent events in id order, and their ids (a stream finds its place by bisection:
        # 500 streams woken by one event must not each scan thousands).
        self._events: list[Event] = []
        self._ids: list[int] = []
        self._stop = threading.Event()
        # Set once the Redis subscription is made (and what was published before it is read).
        self.subscribed = threading.Event()
        with reading(engine) as connection:
            self._cursor = latest_event_id(connection)
        # Events up to here are not in memory: a stream behind it reads the table itself.
        self._dropped_upto = self._cursor
        threading.Thread(target=self._run, name="live-hub", daemon=True).start()
        if redis:
            threading.Thread(target=self._listen, name="live-hub-redis", daemon=True).start()
        _hubs.add(self)

    @property
    def cursor(self) -> int:
        return self._cursor

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def follow(self, after: int, timeout: float) -> list[Event] | None:
        """The events with an id above `after` (every recipient's), waiting up to `timeout`
        seconds for one; None when some of them are no longer in memory (read the table)."""
        with self._changed:
            if after < self._dropped_upto:
                return None
            self._changed.wait_for(lambda: self._cursor > after, timeout)
            if after < self._dropped_upto:
                return None
            return self._events[bisect_right(self._ids, after) :]

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._read_new()
            except Exception:
                log.exception("Live events: reading the new events failed")
                self._stop.wait(self._poll)

    def _read_new(self) -> None:
        while True:
            with reading(self._engine) as connection:
                found = events_after(connection, self._cursor, limit=1000)
            if not found:
                return
            with self._changed:
                self._events.extend(found)
                self._ids.extend(e.id for e in found)
                if len(self._events) > 2 * BUFFER_EVENTS:  # trimmed now and then, not per event
                    self._dropped_upto = self._ids[-BUFFER_EVENTS - 1]
                    del self._events[:-BUFFER_EVENTS], self._ids[:-BUFFER_EVENTS]
                self._cursor = found[-1].id
                self._changed.notify_all()
            if len(found) < 1000:
                return

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = _redis(self._redis_url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(LIVE_CHANNEL)
                self.wake()  # anything published while (re)connecting
                self.subscribed.set()
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self.wake()
            except Exception as error:
                self.subscribed.clear()
                log.warning("Live events: Redis subscription lost (%s); retrying", error)
                self._stop.wait(1.0)


def hub_for(app, engine) -> Hub:
    """This process's hub for `app` (started on the first stream)."""
    with _lock:
        hub = app.extensions.get("live_hub")
        if hub is None:
            url = redis_url(app.config)
            poll = app.config.get(
                "LIVE_SAFETY_POLL_SECONDS" if url else "LIVE_POLL_SECONDS",
                SAFETY_POLL_SECONDS if url else POLL_SECONDS,
            )
            hub = Hub(engine, poll_seconds=float(poll), redis=url)
            app.extensions["live_hub"] = hub
        return hub


def stop_hub(app) -> None:
    hub = app.extensions.pop("live_hub", None)
    if hub is not None:
        hub.stop()
