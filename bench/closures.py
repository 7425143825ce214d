"""Benchmark: a closure across a 1,200-group school (issue 15: applied within 2 s).

`.venv/bin/python bench/closures.py [--series 1200] [--weeks 15] [--database-url URL]` builds the
seeded school of bench/school.py (one weekly series per group), generates its term, then times,
each in its own transaction with its commit: adding a whole-school closure of two school weeks
in the middle of the term (every session on its days cancelled by it, its people told, the
stored clashes refreshed), and removing it (the sessions back, the skipped ones made). Prints
PASS/MISS against the target and exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from school import (
    SEED,
    TERM_START,
    TIMEZONE,
    build_school,
    fresh_postgres,
    migrated_app,
    timed_generation,
)

from models import db
from services.closures import add_closure, remove_closure
from services.school_year import ClosureData

TARGET_SECONDS = 2.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=1200)
    parser.add_argument("--weeks", type=int, default=15)
    parser.add_argument("--database-url", help="a PostgreSQL URL to run next to")
    args = parser.parse_args(argv)
    os.environ.pop("DATABASE_URL", None)
    drop = None
    with tempfile.TemporaryDirectory(prefix="termtable-closures-") as tmp:
        if args.database_url:
            url, drop = fresh_postgres(args.database_url)
        else:
            url = "sqlite:///" + str(Path(tmp) / "bench.db")
        app = migrated_app(url)
        try:
            build_school(app, args.series, SEED)
            timed_generation(app, args.weeks)
            tz = ZoneInfo(TIMEZONE)
            first = TERM_START + timedelta(weeks=args.weeks // 2)
            data = ClosureData("Mid-term break", first, first + timedelta(days=11))
            # "now" before the term, as generation's: every session of the break is to come.
            now = datetime.combine(TERM_START - timedelta(days=1), clock(12), tzinfo=UTC)
            with app.app_context():
                started = time.perf_counter()
                added = add_closure(data, actor=None, tz=tz, now=now)
                db.session.commit()
                add_seconds = time.perf_counter() - started
                closure = added.closure
                started = time.perf_counter()
                removed = remove_closure(closure, tz=tz, now=now)
                db.session.commit()
                remove_seconds = time.perf_counter() - started
                db.session.remove()
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if drop:
                drop()
    dialect = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.series} series, {args.weeks} weeks, {dialect}")
    ok = add_seconds <= TARGET_SECONDS
    print(
        f"add a two-week closure: {add_seconds:.2f} s, {len(added.cancelled)} sessions cancelled,"
        f" {added.notified} notifications  {'PASS' if ok else 'MISS'} (<= {TARGET_SECONDS:g} s)"
    )
    print(
        f"remove it: {remove_seconds:.2f} s, {len(removed.restored)} sessions back,"
        f" {removed.notified} notifications (report)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
