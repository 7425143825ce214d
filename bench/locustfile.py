"""Locust users of the demo school (bench/load.py starts the site and runs this headless).

Students browse their dashboard, timetable and notifications and mark them read; mentors
browse theirs, open their sessions and write notes; coordinators browse the week and day
grids, the exceptions and the cover board. Each logs in once, from an address of its own
(X-Forwarded-For behind one trusted proxy, as behind nginx), then works with think times of
5 to 15 seconds. The figures are reset once every user has logged in. Requests are named by
route ("/sessions/[id]") so the figures add up by page.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re

from locust import HttpUser, between, task

PASSWORD = "termtable-demo"  # noqa: S105 (the demo accounts' published password)
# The demo school's logins by role (bench/load.py passes them).
ACCOUNTS = json.loads(os.environ.get("TERMTABLE_LOAD_ACCOUNTS") or "{}")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
SESSION_LINK = re.compile(r'href="/sessions/(\d+)"')
_addresses = itertools.count(1)
_logged_in = itertools.count(1)
_notes = itertools.count(1)


class SchoolUser(HttpUser):
    abstract = True
    # A person reads a page before the next: 5 to 15 s (200 users: some 20 requests a second).
    wait_time = between(5, 15)
    role = ""

    def on_start(self) -> None:
        n = next(_addresses)
        self.client.headers["X-Forwarded-For"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        page = self.client.get("/auth/login", name="login page")
        token = CSRF.search(page.text).group(1)
        email = random.choice(ACCOUNTS[self.role])
        with self.client.post("/auth/login", data={"csrf_token": token, "email": email,
                              "password": PASSWORD, "next": ""}, name="login",
                              catch_response=True) as response:  # fmt: skip
            if "Log out" not in response.text:
                response.failure(f"{email} could not log in ({response.status_code})")
        # Once every user has logged in, the figures start again: what is measured is the
        # site in use, not the arrival's logins (half a second of scrypt each).
        if next(_logged_in) == self.environment.parsed_options.num_users:
            self.environment.runner.stats.reset_all()
            print("All users logged in: figures reset.", flush=True)

    def csrf_of(self, path: str, name: str) -> tuple[str | None, str]:
        page = self.client.get(path, name=name)
        match = CSRF.search(page.text)
        return (match.group(1) if match else None), page.text


class Student(SchoolUser):
    weight = 15
    role = "student"

    @task(4)
    def dashboard(self) -> None:
        self.client.get("/dashboard/", name="/dashboard/")

    @task(3)
    def timetable(self) -> None:
        self.client.get("/schedule/mine", name="/schedule/mine")

    @task(2)
    def notifications(self) -> None:
        token, _ = self.csrf_of("/notifications/", "/notifications/")
        if token and random.random() < 0.3:
            self.client.post("/notifications/read-all", data={"csrf_token": token},
                             name="/notifications/read-all (write)")  # fmt: skip

    @task(2)
    def bell(self) -> None:
        self.client.get("/notifications/bell", headers={"HX-Request": "true"},
                        name="/notifications/bell")  # fmt: skip


class Mentor(SchoolUser):
    weight = 4
    role = "mentor"

    @task(3)
    def dashboard(self) -> None:
        page = self.client.get("/dashboard/", name="/dashboard/")
        self.sessions = SESSION_LINK.findall(page.text) or getattr(self, "sessions", [])

    @task(2)
    def pending(self) -> None:
        self.client.get("/requests/pending", name="/requests/pending")

    @task(2)
    def session_and_note(self) -> None:
        sessions = getattr(self, "sessions", None)
        if not sessions:
            return
        session = random.choice(sessions)
        token, _ = self.csrf_of(f"/sessions/{session}", "/sessions/[id]")
        if token:
            self.client.post(
                f"/notes/sessions/{session}",
                data={"csrf_token": token, "kind": "general",
                      "body": f"Went over fractions ({next(_notes)})."},
                headers={"HX-Request": "true"}, name="/notes/sessions/[id] (write)",
            )  # fmt: skip


class Coordinator(SchoolUser):
    weight = 1
    role = "coordinator"

    @task(3)
    def week(self) -> None:
        self.client.get("/schedule/", name="/schedule/ (week grid)")

    @task(2)
    def day(self) -> None:
        self.client.get("/schedule/day", name="/schedule/day")

    @task(1)
    def exceptions(self) -> None:
        self.client.get("/timetable/exceptions", name="/timetable/exceptions")

    @task(1)
    def cover(self) -> None:
        self.client.get("/cover/", name="/cover/")
