"""The jobs: e-mail delivery, reminders before sessions, request expiry, large generations,
the recovery sweep, and the housekeeping (live events, uploads).

Each job is idempotent and reads its work from the database, so running one twice, or
after a worker died, does no harm. Periodic ones are scheduled by huey's own scheduler
(`flask worker` runs it): no cron.
"""

from __future__ import annotations

import logging

from huey import crontab

from services.jobs.queue import enqueue, job, jobs, the_app

logger = logging.getLogger(__name__)

# Each delivery job mails at most this many notifications (one SMTP connection).
MAIL_BATCH = 100


@job(retries=2, retry_delay=30)
def deliver_mail() -> int:
    """Mail one batch of the notifications waiting for it (pending, failed with attempts
    left, or leased by a worker that died).

    Fan-out: a notice to 3,000 parents is 30 batches. A job that leased a full batch queues
    the next one before it sends, so every free worker (and thread) takes a batch and they
    send side by side, each message leased to one of them; the chain ends at the first batch
    that is not full. A failed message waits before its next attempt (mail.RETRY_AFTER), so
    a chain running while the mail server is down tries each message once, then ends."""
    from services.notifications.mail import send_pending

    if not the_app().config.get("MAIL_SERVER"):
        return 0

    def queue_next_batch(claimed: int) -> None:
        if claimed >= MAIL_BATCH:
            enqueue(deliver_mail)

    summary = send_pending(limit=MAIL_BATCH, on_claimed=queue_next_batch)
    return summary.sent


@jobs.periodic_task(crontab(minute="*"), name="deliver_mail_every_minute")
def deliver_mail_every_minute() -> None:
    # Retries failed messages and takes over expired leases, even if no one rang.
    enqueue(deliver_mail)


@job()
def expire_requests() -> int:
    """Pending requests whose first session has started become `expired`."""
    from models import db
    from services.requests.lifecycle import expire_requests as expire

    count = expire()
    db.session.commit()
    if count:
        logger.info("Expired %s requests", count)
    return count


@jobs.periodic_task(crontab(minute="*/5"), name="expire_requests_every_five_minutes")
def expire_requests_every_five_minutes() -> None:
    enqueue(expire_requests)


@job()
def recover() -> dict:
    """Queue again what a dead worker left half done: e-mail whose lease ran out (the
    delivery job takes them over) and generation runs whose worker stopped beating."""
    from models import db
    from services.timetable.generation_jobs import stalled_runs

    runs = stalled_runs()
    db.session.commit()
    for run_id in runs:
        enqueue(run_generation, run_id)
    enqueue(deliver_mail)
    return {"generation_runs": runs}


@jobs.periodic_task(crontab(minute="*"), name="recover_every_minute")
def recover_every_minute() -> None:
    enqueue(recover)


@job()
def run_generation(run_id: int) -> None:
    """A generation queued from the web (services/timetable/generation_jobs.py)."""
    from services.timetable.generation_jobs import execute_run

    execute_run(run_id)


@job()
def prune_live_events() -> int:
    """Live events older than LIVE_EVENT_KEEP_HOURS go (a browser away longer resyncs)."""
    from datetime import timedelta

    from models import db
    from services.live.events import KEEP_HOURS, prune_events

    hours = the_app().config.get("LIVE_EVENT_KEEP_HOURS") or KEEP_HOURS
    removed = prune_events(keep=timedelta(hours=hours))
    db.session.commit()
    return removed


@jobs.periodic_task(crontab(minute="17"), name="prune_live_events_hourly")
def prune_live_events_hourly() -> None:
    enqueue(prune_live_events)


@job()
def sweep_uploads() -> int:
    """Unfinished uploads of this host, and stored files no attachment refers to (in the
    upload folder or the bucket), once an hour old: what a process killed mid-upload left
    (services/tracking/attachments.py). A server's start sweeps only its own folder; in a
    bucket this nightly job is what finds them."""
    from datetime import UTC, datetime
    from pathlib import Path

    from models import db
    from services.storage import StorageError, storage_for
    from services.tracking.attachments import (
        UnmatchedUploadFolder,
        sweep_staging_files,
        sweep_unreferenced_files,
    )

    app = the_app()
    now = datetime.now(UTC)
    swept = sweep_staging_files(Path(app.config["UPLOAD_FOLDER"]), now=now)
    try:
        swept += sweep_unreferenced_files(storage_for(app), now=now)
    except (UnmatchedUploadFolder, StorageError) as err:
        logger.warning("Upload sweep: %s", err.message)
    finally:
        db.session.rollback()  # it only read
    for one in swept:
        logger.info("Upload sweep removed %s: %s", one.name, one.reason)
    return len(swept)


@jobs.periodic_task(crontab(minute="41", hour="3"), name="sweep_uploads_nightly")
def sweep_uploads_nightly() -> None:
    enqueue(sweep_uploads)


@job()
def send_reminders() -> int:
    """The reminders due now (services/reminders.py), each sent once."""
    from datetime import UTC, datetime

    from models import db
    from services.common.timeutil import zone
    from services.reminders import send_due_reminders

    sent = send_due_reminders(datetime.now(UTC), zone(the_app().config["TIMEZONE"]))
    db.session.commit()
    return sent


@jobs.periodic_task(crontab(minute="*"), name="send_reminders_every_minute")
def send_reminders_every_minute() -> None:
    enqueue(send_reminders)
