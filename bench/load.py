"""Load test: 200 concurrent users browsing and writing, with locust (bench/locustfile.py).

Run with `.venv/bin/python bench/load.py` (PostgreSQL at 127.0.0.1:5432, database `test`, and
Redis at 127.0.0.1:6379 database 15, as in production; `--database-url`, `--redis-url` to
change). It makes a fresh database next to the given one (dropped afterwards), loads the demo
school into it, serves it as the README's production setup does (gunicorn with
gunicorn.conf.py: one gthread worker process per CPU; limits and jobs in Redis; one
background worker), and runs locust headless: `--users` (200) users arriving at `--rate` (2)
a second, each logging in once; the figures are reset once all have logged in (the logins,
half a second of scrypt each, are the arrival, not the site in use), then `--minutes` (2) are
measured.

Target (issue 16): p95 under 300 ms for pages and fragments (logins apart) and no failed
request. This is a measurement, not a test: it prints each route's figures and PASS/MISS, and
exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.school import fresh_postgres  # noqa: E402

TARGET_P95_MS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(database_url: str, redis_url: str) -> dict:
    """Migrate and load the demo school; the logins by role."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "load-test",
           "FLASK_JOBS_URL": redis_url}  # fmt: skip
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([sys.executable, "-m", "flask", *command], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
    from services.demo import FIRST_NAMES, LAST_NAMES, MENTORS, _login

    domain = "@demo.termtable.test"
    students = [
        _login(f"{first} {LAST_NAMES[n % len(LAST_NAMES)]}") + domain
        for n, first in enumerate(FIRST_NAMES)
    ]
    return {
        "student": students,
        "mentor": [login + domain for _, login in MENTORS],
        "coordinator": ["coordinator" + domain],
    }


def wait_for(url: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=5).close()  # noqa: S310 (our own server)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {deadline} s")


def report(stats_csv: Path) -> bool:
    rows = list(csv.DictReader(stats_csv.open()))
    print(f"{'route':45} {'requests':>9} {'fails':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for row in rows:
        print(f"{row['Name'][:45]:45} {row['Request Count']:>9} {row['Failure Count']:>6} "
              f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7}")  # fmt: skip
    pages = [r for r in rows if r["Name"] not in ("Aggregated", "login", "login page")]
    failures = sum(int(r["Failure Count"]) for r in rows if r["Name"] != "Aggregated")
    worst = max(pages, key=lambda r: float(r["95%"] or 0))
    ok = failures == 0 and float(worst["95%"]) < TARGET_P95_MS
    print(f"\nWorst p95 of pages and fragments: {worst['95%']} ms ({worst['Name']}); "
          f"target under {TARGET_P95_MS} ms. Failed requests: {failures}. "
          f"{'PASS' if ok else 'MISS'}")  # fmt: skip
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rate", type=float, default=2)
    parser.add_argument("--minutes", type=float, default=2)
    args = parser.parse_args(argv)

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    url, drop = fresh_postgres(args.database_url)
    processes = []
    try:
        accounts = seed(url, args.redis_url)
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
            "DATABASE_URL": url, "SECRET_KEY": "load-test", "FLASK_JOBS_URL": args.redis_url,
            "FLASK_RATELIMIT_STORAGE_URI": args.redis_url, "FLASK_TRUSTED_PROXIES": "1",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            # Plain HTTP here (production is behind TLS): cookies not marked Secure.
            "FLASK_SESSION_COOKIE_SECURE": "false", "FLASK_REMEMBER_COOKIE_SECURE": "false",
        }  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="termtable-load-") as tmp:
            env["FLASK_INSTANCE_PATH"] = tmp
            log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115
            for command in (["gunicorn"], ["flask", "worker"]):
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", *command], cwd=ROOT, env=env, stdout=log,
                    stderr=subprocess.STDOUT,
                ))  # fmt: skip
            wait_for(f"http://127.0.0.1:{port}/auth/login")
            ramp = args.users / args.rate
            # The logins queue behind each other's scrypt: allow the arrival twice its time.
            run_time = int(2 * ramp + 30 + args.minutes * 60)
            prefix = Path(tmp) / "locust"
            subprocess.run([
                sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
                "--headless", "--users", str(args.users), "--spawn-rate", str(args.rate),
                "--run-time", f"{run_time}s", "--host", f"http://127.0.0.1:{port}",
                "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
            ], cwd=ROOT, env={**env, "TERMTABLE_LOAD_ACCOUNTS": json.dumps(accounts)},
               check=False)  # fmt: skip
            print(f"\n{args.users} users ({args.rate}/s arriving), measured from the moment all "
                  f"had logged in until {run_time} s after the first arrived:\n")  # fmt: skip
            ok = report(Path(f"{prefix}_stats.csv"))
            log.close()
            kept = Path(tempfile.gettempdir()) / "termtable-load-server.log"
            kept.write_bytes((Path(tmp) / "server.log").read_bytes())
            print(f"The server's and the worker's log: {kept}")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        drop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
