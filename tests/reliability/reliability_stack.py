"""Processes for the fault tests: a MariaDB of the test's own, the fake Cal.com and the booking
service, each a real OS process the test can pause (SIGSTOP), kill (SIGKILL) and start again.

The MariaDB is started from scratch in a temporary data directory on a free port
(`mariadb-install-db` + `mariadbd`); the machine's own MariaDB is never touched. Callers speak
HTTP only; the verdicts come from Cal.com's ground truth (`/_fake/state`) and the service's read
API, never from the service's tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from calharness.load_support.processes import free_port

WEBHOOK_SECRET = "whsec_reliability"
BERLIN_KEY = "bs_demo_berlin"
BERLIN = ZoneInfo("Europe/Berlin")
START_TIMEOUT_S = 60.0


def mariadb_binaries() -> tuple[str, str] | None:
    """(`mariadb-install-db`, `mariadbd`) when both are installed."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = shutil.which("mariadbd") or next(
        (p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if Path(p).exists()), None
    )
    return (install, server) if install and server else None


def _wait_until(ready: Any, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: see {log}")
        if ready():
            return
        time.sleep(0.1)  # polling a process we started until it listens: no event to wait on
    raise RuntimeError(f"{what} did not come up within {START_TIMEOUT_S:g} s: see {log}")


class OwnMariaDB:
    """A MariaDB server of this test alone: its own data directory, port and socket."""

    def __init__(self, folder: Path) -> None:
        found = mariadb_binaries()
        assert found is not None
        self.install_db, self.server = found
        self.folder = folder
        self.datadir = folder / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "mariadbd.log"

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/booking"

    def install(self) -> None:
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [self.install_db, "--no-defaults", f"--datadir={self.datadir}", "--skip-test-db",
             "--auth-root-authentication-method=normal", *user],
            check=True, capture_output=True, timeout=120,
        )

    def start(self) -> None:
        user = ["--user=root"] if os.geteuid() == 0 else []
        argv = [self.server, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--socket={self.folder / 'mysqld.sock'}",
                f"--pid-file={self.folder / 'mysqld.pid'}", "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
                "--max-connections=300", "--skip-log-bin", *user]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        _wait_until(self._answers, "mariadbd", self.process, self.log)

    def _answers(self) -> bool:
        import pymysql

        try:
            connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                                         connect_timeout=1)
        except pymysql.err.OperationalError:
            return False
        with connection:
            connection.cursor().execute(
                "CREATE DATABASE IF NOT EXISTS booking CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_unicode_ci")
        return True

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=30)


@dataclass
class ServiceProcesses:
    """The fake Cal.com and the booking service as processes (the service restartable)."""

    folder: Path
    database_url: str
    service_env: dict[str, str] = field(default_factory=dict)
    fake: subprocess.Popen[bytes] | None = None
    service: subprocess.Popen[bytes] | None = None
    fake_url: str = ""
    service_url: str = ""
    starts: int = 0

    def start_fake(self) -> None:
        port = free_port()
        self.fake_url = f"http://127.0.0.1:{port}"
        log = self.folder / "fake_calcom.log"
        with log.open("ab") as out:
            self.fake = subprocess.Popen(
                [sys.executable, "-m", "fake_calcom", "--port", str(port), "--seed", "3",
                 "--quiet", "--no-rate-limit", "--no-journal"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_until(lambda: _get_ok(f"{self.fake_url}/_fake/healthz"), "fake_calcom", self.fake,
                    log)

    def start_service(self) -> None:
        port = free_port()
        self.service_url = f"http://127.0.0.1:{port}"
        self.starts += 1
        log = self.folder / f"booking_service-{self.starts}.log"
        env = {**os.environ, **self.service_env}
        env.pop("BOOKING_TEST_CONTROL_TOKEN", None)
        with log.open("ab") as out:
            self.service = subprocess.Popen(
                [sys.executable, "-m", "booking_service", "--log-level", "WARNING", "serve",
                 "--port", str(port), "--database-url", self.database_url,
                 "--calcom-url", self.fake_url, "--calcom-timeout", "3",
                 "--webhook-secret", WEBHOOK_SECRET],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        _wait_until(lambda: _get_ok(f"{self.service_url}/healthz"), "booking_service",
                    self.service, log)
        _post_json(f"{self.fake_url}/_fake/webhooks/subscribe",
                   {"subscriberUrl": f"{self.service_url}/api/webhooks/calcom",
                    "secret": WEBHOOK_SECRET})

    def kill_service(self) -> None:
        assert self.service is not None
        self.service.kill()
        self.service.wait(timeout=30)

    def service_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted(self.folder.glob("booking_service-*.log")))

    def stop(self) -> None:
        for process in (self.service, self.fake):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _get_ok(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _post_json(url: str, body: object) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201), response.status


# --- callers ------------------------------------------------------------------------------------


def slots(count: int, *, first_day: int = 8) -> Iterator[datetime]:
    """`count` distinct Beratung slots (Mon–Fri 09:00–16:30 Berlin), from `first_day` days on."""
    day = date.today() + timedelta(days=first_day)
    made = 0
    while made < count:
        if day.weekday() < 5:
            for minutes in range(0, 8 * 60, 30):
                if made == count:
                    return
                yield datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN) + timedelta(
                    minutes=minutes)
                made += 1
        day += timedelta(days=1)


@dataclass
class Answer:
    call_id: str
    slot: datetime
    status: str | None  # the voice status; None: no answer (connection error, timeout)
    reason: str | None
    seconds: float
    booking_uid: str | None = None
    error: str | None = None


async def book(http: aiohttp.ClientSession, service_url: str, call_id: str, slot: datetime,
               *, timeout_s: float) -> Answer:
    local = slot.astimezone(BERLIN)
    args = {"datum": local.strftime("%d.%m.%Y"), "uhrzeit": local.strftime("%H:%M"),
            "name": f"Kim {call_id[-4:]}", "dienstleistung": "Beratung", "call_id": call_id,
            "telefon": "+49151" + str(abs(hash(call_id)) % 10**7).zfill(7)}
    started = time.perf_counter()
    try:
        async with http.post(f"{service_url}/api/retell/collect-appointment",
                             json={"args": args},
                             timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Answer(call_id, slot, None, None, time.perf_counter() - started,
                      error=type(exc).__name__)
    return Answer(call_id, slot, body.get("status"), body.get("reason"),
                  time.perf_counter() - started, body.get("booking_uid"),
                  None if response.status == 200 else f"HTTP {response.status}")


async def get(http: aiohttp.ClientSession, url: str, *, timeout_s: float,
              key: str | None = None) -> tuple[int | None, float, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    started = time.perf_counter()
    try:
        async with http.get(url, headers=headers,
                            timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            body = await response.json(content_type=None)
            return response.status, time.perf_counter() - started, body
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return None, time.perf_counter() - started, type(exc).__name__


async def reconcile_repair(http: aiohttp.ClientSession, service_url: str) -> dict[str, Any]:
    """`POST /api/reconcile {"repair": true}` over the callers' days (until it is not refused)."""
    window = {"repair": True,
              "from": datetime.now(UTC).isoformat(),
              "to": (datetime.now(UTC) + timedelta(days=60)).isoformat()}
    for _ in range(10):
        async with http.post(f"{service_url}/api/reconcile", json=window,
                             headers={"Authorization": f"Bearer {BERLIN_KEY}"},
                             timeout=aiohttp.ClientTimeout(total=60)) as response:
            body = await response.json(content_type=None)
            if response.status == 200:
                return body
        await asyncio.sleep(1)  # a refused run (Cal.com or the database still recovering)
    raise AssertionError(f"reconcile --repair refused: {body}")


@dataclass
class Verdict:
    told_booked: int
    lost: list[str]
    duplicated: list[str]
    double_booked: list[str]
    orphaned: list[str]  # active in Cal.com, booked by a call, no appointment in the read API
    # Told "not booked" (slot_taken, …) while Cal.com holds an active booking for their call.
    misinformed: list[str] = field(default_factory=list)

    def figures(self) -> str:
        return (f"told booked {self.told_booked}, lost {len(self.lost)}, duplicated "
                f"{len(self.duplicated)}, double-booked slots {len(self.double_booked)}, "
                f"orphaned upstream {len(self.orphaned)}, told not booked though booked "
                f"{len(self.misinformed)}")


async def judge(http: aiohttp.ClientSession, processes: ServiceProcesses,
                answers: list[Answer]) -> Verdict:
    """Every caller told "booked" holds its booking in Cal.com and in the read API; no call has
    two active bookings or appointments; no slot holds two active bookings."""
    async with http.get(f"{processes.fake_url}/_fake/state") as response:
        truth = await response.json()
    active = [b for b in truth["bookings"] if b["status"] in ("accepted", "pending")]
    status, _, listed = await get(http, f"{processes.service_url}/api/appointments?limit=1000",
                                  timeout_s=30, key=BERLIN_KEY)
    assert status == 200, listed
    appointments = [a for a in listed["appointments"] if a["status"] in ("scheduled", "pending")]
    by_uid = {b["uid"]: b for b in active}
    shown = {a["booking_uid"]: a for a in appointments}
    lost = [a.call_id for a in answers if a.status == "booked"
            and (a.booking_uid not in by_uid or a.booking_uid not in shown)]
    calls: dict[str, list[str]] = {}
    for booking in active:
        call = (booking.get("metadata") or {}).get("call_id")
        if call:
            calls.setdefault(call, []).append(booking["uid"])
    for appointment in appointments:
        if appointment["call_id"]:
            calls.setdefault("local:" + appointment["call_id"], []).append(appointment["booking_uid"])
    duplicated = [call for call, uids in calls.items() if len(uids) > 1]
    at: dict[tuple[str, tuple[int, ...]], int] = {}
    for booking in active:
        key = (booking["start"], tuple(booking.get("hostIds") or ()))
        at[key] = at.get(key, 0) + 1
    double = [f"{start} {hosts}" for (start, hosts), n in at.items() if n > 1]
    told = sum(1 for a in answers if a.status == "booked")
    orphaned = [b["uid"] for b in active
                if (b.get("metadata") or {}).get("call_id") and b["uid"] not in shown]
    misinformed = [a.call_id for a in answers
                   if a.status not in ("booked", "timeout", None) and a.call_id in calls]
    return Verdict(told, lost, duplicated, double, orphaned, misinformed)
