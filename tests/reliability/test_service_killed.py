"""The booking service killed (SIGKILL) while 40 booking flows run over HTTP, then restarted and
reconciled: nothing lost, nothing doubled.

Out of process: the fake Cal.com and the service as separate processes, on SQLite and on a
MariaDB of this test's own. Each round starts 40 callers for 40 distinct slots at once and kills
the service as soon as 10 of them have answered, so the others die somewhere in their flows
(before Cal.com, between Cal.com's yes and the insert, after it). The service is started again;
every caller who got no answer calls again (same call id, same slot), as a voice agent would;
then `POST /api/reconcile {"repair": true}`. Judged from outside: every caller told "booked" has
the booking in Cal.com and in the read API, no call holds two bookings (in Cal.com or locally),
no slot two, no booking a call made is left without its appointment, and nobody who calls again
is told "taken" because of their own unrecorded booking.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from reliability_stack import (
    Answer,
    OwnMariaDB,
    ServiceProcesses,
    book,
    judge,
    mariadb_binaries,
    reconcile_repair,
    slots,
)

pytestmark = [pytest.mark.slow]

FLOWS = 40
KILL_AFTER_ANSWERS = 10
ROUNDS = 2


@pytest.fixture(params=["sqlite", "mariadb"])
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceProcesses]:
    database: OwnMariaDB | None = None
    if request.param == "mariadb":
        if mariadb_binaries() is None:
            pytest.skip("mariadb-install-db and mariadbd are not installed")
        database = OwnMariaDB(tmp_path)
        database.install()
        database.start()
        url = database.url
    else:
        url = f"sqlite:///{tmp_path / 'booking.db'}"
    stack = ServiceProcesses(tmp_path, url)
    try:
        stack.start_fake()
        stack.start_service()
        yield stack
    finally:
        stack.stop()
        if database is not None:
            database.stop()


async def kill_round(http: aiohttp.ClientSession, processes: ServiceProcesses,
                     round_no: int, round_slots: list) -> list[Answer]:
    answered = asyncio.Event()
    answers: list[Answer] = []
    url = processes.service_url

    async def caller(i: int) -> Answer:
        answer = await book(http, url, f"call_r{round_no}_{i:03d}", round_slots[i], timeout_s=60)
        answers.append(answer)
        if len(answers) >= KILL_AFTER_ANSWERS:
            answered.set()
        return answer

    flows = [asyncio.ensure_future(caller(i)) for i in range(FLOWS)]
    await answered.wait()
    processes.kill_service()
    first = await asyncio.gather(*flows)
    await asyncio.to_thread(processes.start_service)
    final: list[Answer] = []
    for answer in first:
        if answer.status is None:  # no answer: the agent calls again, same call and slot
            answer = await book(http, processes.service_url, answer.call_id, answer.slot,
                                timeout_s=60)
        final.append(answer)
    unanswered = sum(1 for a in first if a.status is None)
    statuses = collections.Counter(a.status for a in final)
    print(f"\nround {round_no}: {FLOWS} flows, killed after {KILL_AFTER_ANSWERS} answers; "
          f"{unanswered} cut off and asked again; final answers {dict(statuses)}")
    return final


async def test_killed_mid_load_then_reconciled(processes: ServiceProcesses) -> None:
    every_slot = list(slots(FLOWS * ROUNDS))
    answers: list[Answer] = []
    async with aiohttp.ClientSession() as http:
        for round_no in range(ROUNDS):
            answers += await kill_round(http, processes, round_no,
                                        every_slot[round_no * FLOWS:(round_no + 1) * FLOWS])
        report = await reconcile_repair(http, processes.service_url)
        verdict = await judge(http, processes, answers)
    print(f"reconcile --repair: missing {len(report['missing'])}, orphans "
          f"{len(report['orphans'])}, repaired {report['repaired']}; {verdict.figures()}")
    assert all(a.error is None for a in answers), [a for a in answers if a.error]
    assert verdict.told_booked > 0
    assert verdict.lost == [], verdict.figures()
    assert verdict.duplicated == [], verdict.figures()
    assert verdict.double_booked == [], verdict.figures()
    assert verdict.orphaned == [], verdict.figures()
    # A caller whose first attempt died after Cal.com's yes hears "booked" when calling again.
    assert verdict.misinformed == [], verdict.figures()
