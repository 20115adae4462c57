"""Helpers for the race scenarios: callers, forcing the worst interleaving, reading answers."""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from aiohttp import web

from booking_service import create_app
from harness.clients.service import Answer
from harness.driver import Driver
from harness.embedded_service import context_of
from harness.slots import Slot
from harness.world import FailpointBarrier, World

#: What a caller who lost a race may be told (contract §2.3): the double-check or the lock saw
#: the winner (`slot_taken`), or Cal.com's own 409 / a lock timeout did (`race_condition_detected`).
LOSER_STATUSES = frozenset({"slot_taken", "race_condition_detected"})

def create_fault(name: str, action: dict[str, Any]) -> dict[str, Any]:
    """A fault on `POST /v2/bookings` (every create the service sends)."""
    return {"name": name, "match": {"method": "POST", "path": "/v2/bookings"},
            "trigger": {"kind": "always"}, "action": action}


def defense_on(world: World, name: str) -> bool:
    """Whether the embedded service under test runs with defense `name` switched on."""
    assert world.stack.service_app is not None
    return context_of(world.stack.service_app).defenses.is_on(name)


@contextlib.contextmanager
def slot_lock_timeout(world: World, seconds: float) -> Iterator[None]:
    """Run with the service's slot-lock timeout at `seconds` (default 30 s), restored after.

    A healthy flow holds the lock for milliseconds, so a few seconds is ample; a scenario that
    exposes a starved lock holder then costs those seconds instead of thirty."""
    assert world.stack.service_app is not None
    ctx = context_of(world.stack.service_app)
    locks = ctx.slot_locks
    before = ctx.settings.slot_lock_timeout_s, getattr(locks, "timeout_s", None)
    ctx.settings.slot_lock_timeout_s = seconds
    if before[1] is not None:
        locks.timeout_s = seconds  # type: ignore[attr-defined]
    try:
        yield
    finally:
        ctx.settings.slot_lock_timeout_s = before[0]
        if before[1] is not None:
            locks.timeout_s = before[1]  # type: ignore[attr-defined]


def force_race(world: World, parties: int) -> FailpointBarrier | None:
    """Make `parties` simultaneous bookings of one slot meet in the worst possible order.

    Without the slot lock: hold every caller right after the availability double-check until all
    `parties` have passed it (so each one saw the slot free), then let Cal.com decide all their
    creates together (the fake's `barrier`: one commits, the others get its 409). With the lock
    on, the lock itself decides the order — callers queue on it, and each later one sees the
    first one's appointment — and a barrier inside it could only wait out its timeout, so none is
    installed. Either way the interleaving is decided, not left to the scheduler.
    """
    if defense_on(world, "slot_lock"):
        return None
    world.arm(create_fault("race-barrier", {"kind": "barrier", "parties": parties,
                                            "timeout_ms": 10_000}))
    return world.barrier("collect.after_double_check", parties=parties, timeout_s=10.0)


def caller_phone(i: int) -> str:
    return f"+49170555{i:04d}"


def book_at_once(world: World, slot: Slot, callers: Sequence[tuple[str, str, str | None]],
                 **kw: Any) -> list[Answer]:
    """Every (call_id, name, phone) asks for `slot` at the same instant; answers in order.
    Each request is its own logical process (the same call may retry while one is in flight)."""
    return world.driver.concurrently([
        (lambda i=i, c=c: world.driver.acollect(slot, call_id=c[0], name=c[1], telefon=c[2],
                                                process=f"{c[0]}#{i}", **kw))
        for i, c in enumerate(callers)
    ])


def tally(answers: Sequence[Answer]) -> Counter[str]:
    return Counter(str(a.status) for a in answers)


def assert_one_winner(answers: Sequence[Answer]) -> Answer:
    """Exactly one caller booked; every other one refused with alternatives to offer."""
    winners = [a for a in answers if a.status == "booked"]
    assert len(winners) == 1, f"expected exactly one booking, got {tally(answers)}"
    for a in answers:
        if a is winners[0]:
            continue
        assert a.status in LOSER_STATUSES, a.body
        assert a.body["success"] is False, a.body
        assert a.body["alternatives"], f"no alternatives offered: {a.body}"
    return winners[0]


def describe(answers: Sequence[Answer]) -> str:
    return ", ".join(f"{k}×{n}" for k, n in
                     Counter(f"{a.status}/{a.body.get('reason') if isinstance(a.body, dict) else '-'}"
                             for a in answers).most_common())


@contextlib.contextmanager
def replica(world: World) -> Iterator[Driver]:
    """A second booking service on the same database, fake Cal.com, clock and failpoints — two
    replicas behind a load balancer — and a driver for it that records into the world's history.

    Only a lock that lives in the database (MariaDB's GET_LOCK) is shared by the two; SQLite's
    in-process lock is not, which is why a SQLite deployment must be a single process."""
    stack = world.stack
    assert stack.service_app is not None
    settings = dataclasses.replace(context_of(stack.service_app).settings)
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=2.0)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    url = stack.run(start())
    driver = Driver(url, world.recorder, stack.run, fake_url=stack.fake_url)
    try:
        yield driver
    finally:
        driver.close()
        stack.run(runner.cleanup())
