"""Benchmark: what a `flask` command costs before its work (issue 14, item 5).

Run with `.venv/bin/python bench/startup.py` (`--runs N`, 5 by default). Each command runs in
its own process, several times; the figures are the median CPU time (user + system, so other
load on the machine barely moves them) and the largest peak RSS of the runs:

- `flask --help`: Flask builds the app to list its commands;
- `flask generate-sessions --help`: a command's own help;
- `flask list-sessions --start 2030-01-01 --end 2030-01-08`: a real command that finds
  nothing, on a fresh migrated SQLite file;
- `create_app()`: what a server worker pays before its first request (`import app;
  app.create_app()`, the process's CPU time when the app is built; a `flask` command's
  figure also counts the process's exit).

For scale, the same run measures a bare Flask app's `flask --help` (the floor: Python, Flask,
click and the plugins' commands). Python's bytecode caches are written by a first, uncounted
run of each command, as they are where the app is installed (an installation whose caches
cannot be written compiles every module of the app on every start: about 0.2 s more).

Target: 0.5 s of CPU for each command. This is a measurement, not a test: it prints PASS/MISS
per command and exits 0 unless something crashes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.5
BENCH_SECRET_KEY = "bench-startup-not-secret"  # noqa: S105
WEEK_OF_NOTHING = ["--start", "2030-01-01", "--end", "2030-01-08"]
BARE_APP = "from flask import Flask\n\n\ndef create_app():\n    return Flask(__name__)\n"


BUILD_APP = "import time, app; app.create_app(); print(time.process_time())"


def measure(argv: list[str], env: dict, cwd: Path) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS (KB) of one run of `argv`; the CPU seconds it
    printed last instead, if it is BUILD_APP."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed:\n{errors.read().decode()}")
        out.seek(0)
        printed = out.read().decode()
    if argv[-1] == BUILD_APP:
        return float(printed.split()[-1]), usage.ru_maxrss
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run(argv: list[str], env: dict, cwd: Path, runs: int) -> tuple[float, int]:
    measure(argv, env, cwd)  # writes the bytecode caches; not counted
    results = [measure(argv, env, cwd) for _ in range(runs)]
    return statistics.median(cpu for cpu, _ in results), max(rss for _, rss in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs per command (5)")
    args = parser.parse_args()

    flask = [sys.executable, "-m", "flask"]
    with tempfile.TemporaryDirectory(prefix="termtable-startup-") as tmp:
        env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            DATABASE_URL=f"sqlite:///{tmp}/startup.db",
            SECRET_KEY=BENCH_SECRET_KEY,
            PYTHONPATH=str(ROOT),
        )
        subprocess.run(
            [*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        bare = Path(tmp, "bare")
        bare.mkdir()
        (bare / "app.py").write_text(BARE_APP)

        floor = run([*flask, "--help"], {**env, "PYTHONPATH": str(bare)}, bare, args.runs)
        print(f"floor (a bare Flask app's `flask --help`): {floor[0]:.2f} s, {floor[1] // 1024} MB")
        commands = {
            "flask --help": [*flask, "--help"],
            "flask generate-sessions --help": [*flask, "generate-sessions", "--help"],
            "flask list-sessions (an empty week)": [
                *flask,
                "list-sessions",
                *WEEK_OF_NOTHING,
            ],
            "create_app()": [sys.executable, "-c", BUILD_APP],
        }
        print(f"{'command':44} {'CPU s':>6} {'max RSS':>8}  target {TARGET_SECONDS} s")
        for label, argv in commands.items():
            cpu, rss = run(argv, env, ROOT, args.runs)
            verdict = "PASS" if cpu <= TARGET_SECONDS else "MISS"
            print(f"{label:44} {cpu:6.2f} {rss // 1024:5d} MB  {verdict}")


if __name__ == "__main__":
    main()
