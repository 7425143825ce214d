"""Generations too large for a page to wait for, run by a background job.

The page (or the API) queues a `GenerationRun` and answers at once; a worker runs it window
by window (as `flask generate-sessions` does, so its memory follows a window, not the
term), in one transaction: all of it is written, or none. While it runs, the worker beats a
heartbeat and writes its progress into the job storage (not the app's database, whose write
lock the run holds on SQLite). A worker that dies leaves the run `running` with a stale
heartbeat: `stalled_runs` queues it again (the dead worker's transaction was rolled back with
it), up to MAX_RUN_ATTEMPTS.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from flask import current_app
from sqlalchemy import select, update

from models import GenerationRun, GenerationRunStatus, User, db
from services.common.errors import ValidationError
from services.common.timeutil import zone
from services.jobs.queue import enqueue_after_commit, jobs
from services.timetable.generation import (
    GenerationSummary,
    generate_occurrences,
    sessions_in_window,
)

logger = logging.getLogger(__name__)

COUNTS = ("created", "updated", "removed", "unchanged", "kept", "out_of_date", "closed")
# A run whose worker died this many times is failed, not tried again.
MAX_RUN_ATTEMPTS = 3
# The conflicts a run keeps to list (it counts them all).
CONFLICTS_KEPT = 100
# Seconds without a heartbeat after which a running run's worker is taken for dead
# (JOB_LEASE_SECONDS); the worker beats four times as often.
JOB_LEASE_SECONDS = 60


def queue_run(
    *,
    actor: User | None,
    start: date,
    end: date,
    group_id: int | None,
    force: bool,
    dry_run: bool,
    sessions: int,
) -> GenerationRun:
    """Keep a run for a worker (flush only; queued once the caller commits)."""
    from services.jobs.tasks import run_generation

    run = GenerationRun(
        requested_by_id=actor.id if actor is not None else None,
        start=start,
        end=end,
        group_id=group_id,
        force=force,
        dry_run=dry_run,
        sessions=sessions,
    )
    db.session.add(run)
    db.session.flush()
    enqueue_after_commit(run_generation, run.id)
    return run


def generate_or_queue(
    start: date,
    end: date,
    *,
    actor: User | None,
    tz,
    force: bool,
    dry_run: bool,
    group_id: int | None = None,
    limit: int,
    details: bool = False,
) -> GenerationSummary | GenerationRun:
    """A generation asked for from a page or the API: run here when its window holds at
    most `limit` sessions (0: no limit), and its summary returned; else queued for a worker
    (flush only), and the run returned."""
    group_ids = [group_id] if group_id else None
    held = sessions_in_window(start, end, group_ids)
    if 0 < limit < held:
        return queue_run(
            actor=actor, start=start, end=end, group_id=group_id, force=force,
            dry_run=dry_run, sessions=held,
        )  # fmt: skip
    return generate_occurrences(
        start, end, tz=tz, force=force, dry_run=dry_run, group_ids=group_ids, details=details
    )


def _lease_seconds() -> float:
    return float(current_app.config.get("JOB_LEASE_SECONDS") or JOB_LEASE_SECONDS)


def _heartbeat_key(run_id: int) -> str:
    return f"generation-run:{run_id}:heartbeat"


def _progress_key(run_id: int) -> str:
    return f"generation-run:{run_id}:progress"


def _read(key: str) -> str | None:
    from huey.constants import EmptyData

    value = jobs.storage.peek_data(key)
    return None if value is EmptyData or value is None else bytes(value).decode()


def progress_of(run: GenerationRun) -> tuple[int, int] | None:
    """(windows done, windows in all) of a running run, if its worker has said."""
    value = _read(_progress_key(run.id))
    if not value:
        return None
    done, _, total = value.partition("/")
    return int(done), int(total)


@contextmanager
def _heartbeat(run_id: int, every: float) -> Iterator[None]:
    """Beat `run_id`'s heartbeat every `every` seconds from a thread while the block runs."""
    stop = threading.Event()
    key = _heartbeat_key(run_id)

    def beat() -> None:
        while True:
            try:
                jobs.storage.put_data(key, str(time.time()).encode())
            except Exception:  # the storage may be briefly unreachable: beat again later
                logger.warning("Generation run %s: heartbeat not written", run_id, exc_info=True)
            if stop.wait(every):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _claim(run_id: int, now: datetime) -> GenerationRun | None:
    """Take a queued run for this worker, in one committed UPDATE (two workers handed the
    same run: one gets it)."""
    claimed = db.session.execute(
        update(GenerationRun)
        .where(GenerationRun.id == run_id, GenerationRun.status == GenerationRunStatus.QUEUED)
        .values(
            status=GenerationRunStatus.RUNNING,
            attempts=GenerationRun.attempts + 1,
            started_at=now,
            worker=f"{socket.gethostname()}:{os.getpid()}"[:120],
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return db.session.get(GenerationRun, run_id) if claimed else None


def execute_run(run_id: int, now: datetime | None = None) -> GenerationRun | None:
    """Run a queued generation to its end, and keep its outcome on the run. Does nothing for
    a run already taken, finished or gone."""
    run = _claim(run_id, now or datetime.now(UTC))
    if run is None:
        return None
    jobs.storage.put_data(_heartbeat_key(run_id), str(time.time()).encode())
    conflicts: list[dict] = []
    found_in_all = 0

    def keep_conflicts(found: list[dict]) -> None:
        nonlocal found_in_all
        found_in_all += len(found)
        conflicts.extend(found[: max(0, CONFLICTS_KEPT - len(conflicts))])

    def tell_progress(done: int, total: int) -> None:
        jobs.storage.put_data(_progress_key(run_id), f"{done}/{total}".encode())

    # Read now: the run's row is expired by the commits and rollbacks to come.
    start, end, group_id, force, dry_run = run.start, run.end, run.group_id, run.force, run.dry_run
    try:
        with _heartbeat(run_id, _lease_seconds() / 4):
            summary = generate_occurrences(
                start,
                end,
                tz=zone(current_app.config["TIMEZONE"]),
                force=force,
                dry_run=dry_run,
                now=now,
                group_ids=[group_id] if group_id else None,
                window_days=current_app.config["GENERATION_WINDOW_DAYS"],
                on_conflicts=keep_conflicts,
                on_progress=tell_progress,
            )
            outcome = summary.as_dict()
            outcome["conflicts"] = conflicts or outcome["conflicts"][:CONFLICTS_KEPT]
            outcome["conflict_count"] = found_in_all or len(summary.conflicts)
            outcome["nothing_because"] = summary.nothing_because
            run = db.session.get(GenerationRun, run_id)
            run.status = GenerationRunStatus.DONE
            run.summary = outcome
            run.finished_at = datetime.now(UTC)
            db.session.commit()
    except ValidationError as err:
        db.session.rollback()
        _fail(run_id, err.message)
    except Exception:
        db.session.rollback()
        logger.exception("Generation run %s failed", run_id)
        _fail(run_id, "The generation stopped on an unexpected error; nothing was written.")
    finally:
        for key in (_heartbeat_key(run_id), _progress_key(run_id)):
            jobs.storage.delete_data(key)
    return db.session.get(GenerationRun, run_id)


def run_summary(run: GenerationRun) -> GenerationSummary | None:
    """The outcome of a finished run as the Generate page shows a run's (its conflicts the
    first CONFLICTS_KEPT; `conflict_count` says how many in all)."""
    if run.status is not GenerationRunStatus.DONE or not run.summary:
        return None
    kept = run.summary
    counts = {name: kept.get(name, 0) for name in COUNTS}
    return GenerationSummary(
        start=run.start,
        end=run.end,
        force=run.force,
        dry_run=run.dry_run,
        conflicts=list(kept.get("conflicts") or []),
        shifted=list(kept.get("shifted") or []),
        nothing_because=kept.get("nothing_because"),
        group_ids=(run.group_id,) if run.group_id else None,
        **counts,
    )


def conflict_count(run: GenerationRun) -> int:
    return int((run.summary or {}).get("conflict_count") or 0)


def _fail(run_id: int, message: str) -> None:
    run = db.session.get(GenerationRun, run_id)
    run.status = GenerationRunStatus.FAILED
    run.error = message
    run.finished_at = datetime.now(UTC)
    db.session.commit()


def stalled_runs(now: float | None = None) -> list[int]:
    """Runs to queue again (flush only): running ones whose worker stopped beating (set back
    to queued, or failed after MAX_RUN_ATTEMPTS), and queued ones that were never picked up
    within a lease (their message lost, say the queue was unreachable when they were kept)."""
    now = time.time() if now is None else now
    lease = _lease_seconds()
    again = []
    for run in db.session.scalars(
        select(GenerationRun).where(
            GenerationRun.status.in_((GenerationRunStatus.QUEUED, GenerationRunStatus.RUNNING))
        )
    ):
        if run.status is GenerationRunStatus.QUEUED:
            if now - run.created_at.timestamp() > lease:
                again.append(run.id)
            continue
        beat = _read(_heartbeat_key(run.id))
        last = float(beat) if beat else run.started_at.timestamp()
        if now - last <= lease:
            continue
        if run.attempts >= MAX_RUN_ATTEMPTS:
            run.status = GenerationRunStatus.FAILED
            run.error = (
                f"The worker running it stopped {run.attempts} times; nothing was written. "
                "Run it again, or with `flask generate-sessions`."
            )
            run.finished_at = datetime.now(UTC)
        else:
            logger.warning("Generation run %s: its worker stopped; queued again", run.id)
            run.status = GenerationRunStatus.QUEUED
            again.append(run.id)
    db.session.flush()
    return again
