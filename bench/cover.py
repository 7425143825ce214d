"""Benchmark: the cover board of a day for a 200-mentor school (issue 15: within 100 ms of
server time).

`.venv/bin/python bench/cover.py [--series 1400] [--absent 20] [--repeat 15]
[--database-url URL]` builds the seeded school of bench/school.py (a mentor per 7 series: 200
mentors for 1,400 series), generates two weeks, records `--absent` mentors away on the
Wednesday, then times the board page (`GET /cover/?date=`, the whole request through the
app, logged in as a coordinator) and the service alone (`cover_board`): median and worst of
`--repeat` runs, and the SQL statements of one. Prints PASS/MISS against the target for the
page and exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from school import (
    SEED,
    TERM_START,
    TIMEZONE,
    build_school,
    counting_statements,
    fresh_postgres,
    log_in,
    migrated_app,
    timed_generation,
)

from models import db
from services.cover import AbsenceData, cover_board, record_absence
from services.people.accounts import create_user

TARGET_SECONDS = 0.100
PASSWORD = "bench-password"  # noqa: S105 (a throwaway database)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=1400)
    parser.add_argument("--absent", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", help="a PostgreSQL URL to run next to")
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)
    drop = None
    wednesday = TERM_START + timedelta(days=2)
    tz = ZoneInfo(TIMEZONE)
    with tempfile.TemporaryDirectory(prefix="termtable-cover-") as tmp:
        if args.database_url:
            url, drop = fresh_postgres(args.database_url)
        else:
            url = "sqlite:///" + str(Path(tmp) / "bench.db")
        app = migrated_app(url)
        try:
            school = build_school(app, args.series, SEED)
            timed_generation(app, 2)
            with app.app_context():
                for mentor_id in school.mentor_ids[: args.absent]:
                    record_absence(AbsenceData(mentor_id, wednesday), actor=None, tz=tz)
                create_user(
                    "coordinator@bench.test", "Cora", "coordinator", password=PASSWORD,
                    hash_method="scrypt:1024:8:1",
                )  # fmt: skip
                db.session.commit()
                needs = cover_board(wednesday, tz)
                engine = db.engine
            client = app.test_client()
            log_in(client, "coordinator@bench.test", PASSWORD)
            page, service = [], []
            for _ in range(args.repeat):
                with counting_statements(engine) as counter:
                    started = time.perf_counter()
                    response = client.get(f"/cover/?date={wednesday.isoformat()}")
                    page.append(time.perf_counter() - started)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                statements = counter["n"]
                with app.app_context():
                    started = time.perf_counter()
                    cover_board(wednesday, tz)
                    service.append(time.perf_counter() - started)
                    db.session.remove()
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if drop:
                drop()
    dialect = "PostgreSQL" if args.database_url else "SQLite"
    open_needs = sum(1 for n in needs if n.is_open)
    print(
        f"Cover board, {school.mentors} mentors ({args.absent} away), {len(needs)} sessions"
        f" touched ({open_needs} open), {dialect}"
    )
    print(f"  page     median {statistics.median(page) * 1000:6.1f} ms, worst "
          f"{max(page) * 1000:6.1f} ms, {statements} statements")  # fmt: skip
    print(f"  service  median {statistics.median(service) * 1000:6.1f} ms, worst "
          f"{max(service) * 1000:6.1f} ms")  # fmt: skip
    ok = statistics.median(page) <= TARGET_SECONDS
    print(f"  target   {TARGET_SECONDS * 1000:.0f} ms for the page: {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
