"""N callers want the same slot at the same instant (seeds/001 §2.2, seeds/000 TC-004/TC-009/TC-010).

The 14-second race of RCA 2025-10-14, squeezed to zero: every caller starts at once
(`world.driver.concurrently`), and `force_race` decides the interleaving instead of the scheduler
(the slot lock when it is on; otherwise barriers that let every caller pass the double-check and
then have Cal.com judge all creates together). Whatever the interleaving, exactly one caller may
be booked and every other one must be told so and offered other times. The judge then checks the
upstream truth: one active booking at the host slot, one appointment, nobody holding another
caller's booking.

Where the target does not say which defenses it runs (no test control), `force_race` takes the
slot lock to be on, as `World.defense_on` does: the callers then meet as the scheduler lets
them, and the same judgement applies.
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.races._support import (
    LOSER_STATUSES,
    assert_one_winner,
    book_at_once,
    caller_phone,
    describe,
    force_race,
)

pytestmark = [pytest.mark.area("races"),
              pytest.mark.rca("availability-race-14s")]

#: The service's slot-lock timeout during these scenarios: its default, 30 s. A starved lock
#: holder (a pool-starvation bug this scenario found on MariaDB: waiters on GET_LOCK holding every
#: pooled connection) never gets through, so every waiter times out whatever the timeout is; a
#: shorter one only made the healthy case depend on machine speed (50 flows through the lock took
#: over 5 s at a load average of 12 under coverage).
LOCK_TIMEOUT_S = 30.0


@pytest.mark.rca("tc-004", "tc-009")
@pytest.mark.parametrize("callers", [2, 10, 50])
@pytest.mark.needs("book")
def test_many_callers_one_slot_exactly_one_booked(world: World, callers: int) -> None:
    """Different customers (own names and phone numbers) want the same 30-minute Beratung."""
    slot = world.slot(days_ahead=2, hour=11)
    force_race(world, callers)

    with world.slot_lock_timeout(LOCK_TIMEOUT_S):
        answers = book_at_once(world, slot, [(f"call_race_{i:03d}", f"Kundin Nummer {i}",
                                              caller_phone(i)) for i in range(callers)])

    winner = assert_one_winner(answers)
    assert winner.body["start"] == slot.start
    # A refusal because the lock could not be had in 30 s means the lock holder was starved,
    # not that the slot was busy.
    timed_out = [a for a in answers if a.body.get("reason") == "slot_lock_timeout"]
    assert not timed_out, f"callers waited out the slot lock: {describe(answers)}"


@pytest.mark.rca("tc-001", "tc-010")
@pytest.mark.parametrize("attempts", [2, 10, 50])
@pytest.mark.needs("book")
def test_same_caller_retrying_at_once_books_once(world: World, attempts: int) -> None:
    """The voice agent fires the same collect-appointment again and again (same call_id) while
    the first is still in flight. One booking upstream, one appointment; every answer that says
    booked names that same booking, and no attempt is refused for anything but the race."""
    slot = world.slot(days_ahead=2, hour=14, minute=30)
    force_race(world, attempts)

    with world.slot_lock_timeout(LOCK_TIMEOUT_S):
        answers = book_at_once(world, slot, [("call_retry_0001", "Max Mustermann",
                                              "+4915112345678")] * attempts)

    booked = [a for a in answers if a.status == "booked"]
    assert booked, describe(answers)
    assert len({(a.body["booking_uid"], a.body["appointment_id"]) for a in booked}) == 1, \
        describe(answers)
    for a in answers:
        assert a.status == "booked" or a.status in LOSER_STATUSES, a.body
        assert a.body.get("reason") != "slot_lock_timeout", describe(answers)
    if world.defense_on("slot_lock"):
        # Serialised by the lock, each retry finds the call's own appointment: the same answer.
        assert len(booked) == attempts, describe(answers)
