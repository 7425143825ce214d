"""`flask worker` (the background worker: jobs and their schedule) and `flask run-jobs` (work
the queue once, in this process)."""

from __future__ import annotations

import logging

import click
from flask import Blueprint, current_app

from services.jobs.queue import jobs, queue_stats, run_queued_jobs

bp = Blueprint("jobs_commands", __name__, cli_group=None)


@bp.cli.command("worker")
@click.option("--workers", "-w", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Jobs run at once (threads).")  # fmt: skip
@click.option("--no-schedule", is_flag=True,
              help="Run queued jobs only; leave the periodic ones (mail retries, request "
                   "expiry, recovery) to another worker.")  # fmt: skip
def worker_command(workers: int, no_schedule: bool) -> None:
    """Run background jobs until stopped (SIGINT waits for running jobs, SIGTERM does not).

    Several workers, on one host or several, may share one queue (JOBS_URL): each job runs
    once. At start the worker queues the recovery sweep, which takes over what a worker that
    died left half done."""
    from services.jobs.tasks import recover

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    storage = current_app.config["JOBS_URL"].split("://", 1)[0]
    click.echo(f"Termtable worker: {workers} at once, queue on {storage}, schedule "
               f"{'off' if no_schedule else 'on'}.")  # fmt: skip
    recover()  # here, before taking jobs: a run left by a dead worker is queued again
    consumer = jobs.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=not no_schedule,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=1.0,
        check_worker_health=True,
    )
    consumer.run()


@bp.cli.command("run-jobs")
def run_jobs_command() -> None:
    """Run every queued job here, one after another, and stop when the queue is empty."""
    before = queue_stats()["waiting"]
    ran = run_queued_jobs()
    click.echo(f"Ran {ran} job{'' if ran == 1 else 's'} ({before} were waiting).")
