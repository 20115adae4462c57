"""Helpers for the race scenarios: callers, forcing the worst interleaving, reading answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness.clients.service import Answer
from harness.faults import barrier, fault
from harness.slots import Slot
from harness.world import FailpointBarrier, World

#: What a caller who lost a race may be told (contract §2.3): the double-check or the lock saw
#: the winner (`slot_taken`), or Cal.com's own 409 / a lock timeout did (`race_condition_detected`).
LOSER_STATUSES = frozenset({"slot_taken", "race_condition_detected"})


def force_race(world: World, parties: int) -> FailpointBarrier | None:
    """Make `parties` simultaneous bookings of one slot meet in the worst possible order.

    Without the slot lock: hold every caller right after the availability double-check until all
    `parties` have passed it (so each one saw the slot free), then let Cal.com decide all their
    creates together (the fake's `barrier`: one commits, the others get its 409). With the lock
    on, the lock itself decides the order — callers queue on it, and each later one sees the
    first one's appointment — and a barrier inside it could only wait out its timeout, so none is
    installed. Either way the interleaving is decided, not left to the scheduler.
    """
    if world.defense_on("slot_lock"):
        return None
    world.arm(fault("race-barrier", barrier(parties, timeout_ms=10_000)))
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
