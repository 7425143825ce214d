"""Two writers at once (two workers, a double submit): no duplicates, no double booking.

Threads are released together by a barrier and work in their own app context (their own
database connection); the assertions are on the final rows.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from models import Occurrence, db
from services.common.errors import ConflictError
from services.timetable.exceptions import OverrideChange, save_override
from services.timetable.generation import generate_occurrences

PARIS = ZoneInfo("Europe/Paris")
TERM = date(2026, 9, 7)


def run_together(app, *jobs):
    """Run each job in its own thread and app context, all starting at the same moment."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(index, job):
        with app.app_context():
            barrier.wait()
            try:
                results[index] = job()
                db.session.commit()
            except Exception as err:  # the assertion looks at what each worker ended with
                db.session.rollback()
                results[index] = err
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_generations_at_once_create_each_session_once(app, make_series):
    for weekday in range(5):
        make_series(weekdays=(weekday,))
    db.session.remove()

    def generate():
        return generate_occurrences(
            TERM, TERM + timedelta(weeks=6), tz=PARIS, now=datetime(2026, 9, 1, tzinfo=UTC)
        )

    results = run_together(app, generate, generate)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert db.session.scalar(select(func.count(Occurrence.id))) == 30
    pairs = db.session.execute(select(Occurrence.series_id, Occurrence.original_date)).all()
    assert len(set(pairs)) == 30


def test_two_moves_into_the_same_free_slot_only_one_succeeds(
    app, make_group, make_series, make_room
):
    target = make_room("Hall")
    first = make_series(make_group(), weekdays=(0,))
    second = make_series(make_group(), weekdays=(1,))
    generate_occurrences(
        TERM, TERM + timedelta(weeks=1), tz=PARIS, now=datetime(2026, 9, 1, tzinfo=UTC)
    )
    db.session.commit()
    first_id, second_id, hall_id = first.id, second.id, target.id
    db.session.remove()
    wednesday = TERM + timedelta(days=2)

    def move(series_id, day):
        def job():
            from models import Series

            series = db.session.get(Series, series_id)
            return save_override(
                series,
                day,
                OverrideChange(
                    new_date=wednesday, start_time=time(9), end_time=time(10), room_id=hall_id
                ),
                actor=None,
                tz=PARIS,
            )

        return job

    results = run_together(app, move(first_id, TERM), move(second_id, TERM + timedelta(days=1)))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ConflictError), results
    in_hall = db.session.scalar(
        select(func.count(Occurrence.id)).where(Occurrence.room_id == hall_id)
    )
    assert in_hall == 1
