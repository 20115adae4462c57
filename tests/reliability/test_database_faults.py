"""The service's database paused (SIGSTOP) and killed (SIGKILL, then restarted) while callers book.

Out of process: a MariaDB of this test's own (own data directory and port), the fake Cal.com and
the booking service as separate processes, callers over HTTP. The service runs with short
database timeouts (connect 2 s, read 2 s, pool 3 s, slot lock 3 s) so that a pause of 25 s is
far longer than any of them. What must hold:

* bounded answers: every request made while the database is paused is answered before the
  pause ends (before the fixes each one waited for the whole pause, `/healthz` included);
* clear answers: the voice agent hears `upstream_unavailable` / `database_unavailable` (never
  `internal_error`), the read API and `/healthz` answer 503 (never 500);
* one log line per failure: no traceback in the service's log;
* recovery: once the database is back, bookings succeed again without a restart of the service;
* nothing lost, nothing doubled: after `reconcile --repair`, every caller told "booked" has the
  booking in Cal.com and in the read API; no call holds two bookings, no slot two.

Figures (answers by status, longest answer, lost, duplicated) are printed (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from reliability_stack import (
    BERLIN_KEY,
    Answer,
    OwnMariaDB,
    ServiceProcesses,
    book,
    get,
    judge,
    mariadb_binaries,
    reconcile_repair,
    slots,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(mariadb_binaries() is None,
                       reason="mariadb-install-db and mariadbd are not installed"),
]

PAUSE_S = 25.0  # far past every timeout below; the callers must not wait for its end
TIMEOUTS = {
    "BOOKING_DB_CONNECT_TIMEOUT": "2",
    "BOOKING_DB_READ_TIMEOUT": "2",
    "BOOKING_DB_POOL_TIMEOUT": "3",
    "BOOKING_SLOT_LOCK_TIMEOUT": "3",
}
CALLERS_PER_FAULT = 16
FAULT_AFTER_ANSWERS = 3  # the fault strikes once this many of the phase's callers have answered


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[OwnMariaDB, ServiceProcesses]]:
    database = OwnMariaDB(tmp_path)
    processes = ServiceProcesses(tmp_path, database.url, service_env=dict(TIMEOUTS))
    try:
        database.install()
        database.start()
        processes.start_fake()
        processes.start_service()
        yield database, processes
    finally:
        processes.stop()
        database.stop()


class Phase:
    """Callers, and probes of the read API and health, around one database fault."""

    def __init__(self, name: str, slot_list: list[datetime]) -> None:
        self.name = name
        self.slots = slot_list
        self.answers: list[Answer] = []
        self.probes: list[tuple[str, int | None, float]] = []

    def figures(self) -> str:
        statuses = collections.Counter(f"{a.status}/{a.reason}" if a.status != "booked"
                                       else "booked" for a in self.answers)
        longest = max([a.seconds for a in self.answers] + [p[2] for p in self.probes])
        probes = collections.Counter(f"{what} {status}" for what, status, _ in self.probes)
        return (f"{self.name}: {len(self.answers)} answers {dict(statuses)}; probes "
                f"{dict(probes)}; longest answer {longest:.2f} s")


async def run_phase(http: aiohttp.ClientSession, processes: ServiceProcesses, phase: Phase,
                    strike: asyncio.Event, struck: asyncio.Event) -> None:
    """Start the callers; set `strike` after FAULT_AFTER_ANSWERS answers; once the fault is in
    (`struck`), send the rest of the callers and the probes."""
    url = processes.service_url

    async def caller(i: int, slot: datetime) -> None:
        answer = await book(http, url, f"call_{phase.name}_{i:04d}", slot, timeout_s=PAUSE_S + 30)
        phase.answers.append(answer)
        if len(phase.answers) >= FAULT_AFTER_ANSWERS:
            strike.set()

    async def probe(what: str, path: str, key: str | None) -> None:
        status, seconds, _ = await get(http, url + path, timeout_s=PAUSE_S + 30, key=key)
        phase.probes.append((what, status, seconds))

    half = len(phase.slots) // 2
    before = [asyncio.ensure_future(caller(i, s)) for i, s in enumerate(phase.slots[:half])]
    await struck.wait()
    after = [asyncio.ensure_future(caller(half + i, s))
             for i, s in enumerate(phase.slots[half:])]
    after += [asyncio.ensure_future(probe("healthz", "/healthz", None)),
              asyncio.ensure_future(probe("appointments", "/api/appointments", BERLIN_KEY))]
    await asyncio.gather(*before, *after)


async def book_until_booked(http: aiohttp.ClientSession, url: str, call_id: str,
                            slot: datetime) -> Answer:
    """Recovery: a caller who keeps asking (as the agent would, after "try again") is booked."""
    for _ in range(20):
        answer = await book(http, url, call_id, slot, timeout_s=30)
        if answer.status == "booked":
            return answer
        await asyncio.sleep(0.5)  # the agent's "one moment, please"
    raise AssertionError(f"{call_id}: not booked after the database came back: {answer}")


async def test_paused_and_killed_database(stack: tuple[OwnMariaDB, ServiceProcesses]) -> None:
    database, processes = stack
    all_slots = list(slots(4 + 2 * CALLERS_PER_FAULT + 4))
    answers: list[Answer] = []
    async with aiohttp.ClientSession() as http:
        url = processes.service_url
        for i, slot in enumerate(all_slots[:4]):
            answers.append(await book_until_booked(http, url, f"call_warm_{i}", slot))

        # --- paused: SIGSTOP for PAUSE_S ------------------------------------------------------
        paused = Phase("paused", all_slots[4:4 + CALLERS_PER_FAULT])
        strike, struck = asyncio.Event(), asyncio.Event()
        run = asyncio.ensure_future(run_phase(http, processes, paused, strike, struck))
        await strike.wait()
        database.signal(signal.SIGSTOP)
        struck.set()
        try:
            # A behavioural bound: everything answered while the database is still paused.
            await asyncio.wait_for(asyncio.shield(run), timeout=PAUSE_S)
            answered_during_pause = True
        except TimeoutError:
            answered_during_pause = False
        finally:
            database.signal(signal.SIGCONT)
        await run
        print("\n" + paused.figures())
        answers += paused.answers
        answers.append(await book_until_booked(http, url, "call_after_pause",
                                               all_slots[-4]))

        # --- killed: SIGKILL, then started again on the same data --------------------------
        killed = Phase("killed", all_slots[4 + CALLERS_PER_FAULT:4 + 2 * CALLERS_PER_FAULT])
        strike, struck = asyncio.Event(), asyncio.Event()
        run = asyncio.ensure_future(run_phase(http, processes, killed, strike, struck))
        await strike.wait()
        database.kill()
        struck.set()
        await asyncio.wait_for(run, timeout=PAUSE_S)
        print(killed.figures())
        answers += killed.answers
        await asyncio.to_thread(database.start)
        answers.append(await book_until_booked(http, url, "call_after_kill", all_slots[-3]))

        report = await reconcile_repair(http, url)
        verdict = await judge(http, processes, answers)
    logs = processes.service_logs()
    tracebacks = logs.count("Traceback")
    print(f"reconcile --repair: {report.get('repaired', report)}")
    print(f"{verdict.figures()}; service log: {tracebacks} tracebacks, "
          f"{logs.count('database unavailable')} 'database unavailable' lines")

    assert answered_during_pause, "requests waited for the paused database: " + paused.figures()
    for phase in (paused, killed):
        for answer in phase.answers:
            assert answer.error is None, f"{phase.name}: {answer}"
            assert answer.reason != "internal_error", f"{phase.name}: {answer}"
            assert answer.status in ("booked", "upstream_unavailable", "rate_limited", "timeout",
                                     "error"), f"{phase.name}: {answer}"
        for what, status, _ in phase.probes:
            assert status in (200, 503), f"{phase.name}: {what} answered {status}"
    assert any(a.reason == "database_unavailable" for a in paused.answers + killed.answers)
    assert tracebacks == 0, "tracebacks in the service log (one line per failure expected)"
    assert verdict.lost == [], verdict.figures()
    assert verdict.duplicated == [], verdict.figures()
    assert verdict.double_booked == [], verdict.figures()
