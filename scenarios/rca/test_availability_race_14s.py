"""The 14-second availability race (seeds/001, RCA 2025-10-14; §2.1/§2.2 race condition tests).

A caller heard "14:00 is free", thought about it for 14 seconds, said "yes, book it" — and in
those 14 seconds someone else had taken 14:00. The caller must be told `slot_taken` and offered
alternatives that really are free (and bookable), never be double-booked. The shared virtual
clock stands in for the 14 seconds; who takes the slot in the gap varies: another voice caller,
somebody booking in Cal.com directly (no webhook reaches the service), or somebody taking it in
the instant between the service's last check and its create.

Where the target has no shared clock the caller confirms as soon as the other booking is made:
the gap's length is not what is tested. A service must ask again before it books; anything it
kept from the check (a cached "free") is only fresher after a shorter gap, so zero seconds is no
easier to get right than fourteen.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from harness.clients.service import Answer
from harness.faults import fault, slot_steal
from harness.slots import BERLIN, Slot
from harness.world import World

pytestmark = [pytest.mark.area("rca"),
              pytest.mark.rca("availability-race-14s")]

THINKING_S = 14


def slot_of(alternative: dict) -> Slot:
    return Slot(datetime.fromisoformat(alternative["start"].replace("Z", "+00:00"))
                .astimezone(BERLIN))


def assert_alternatives_really_free(world: World, answer: Answer, taken: Slot) -> list[Slot]:
    """Every offered alternative is another start that Cal.com still has free (checked through the
    service's own availability check, as the voice agent would), and the caller can book one."""
    offered = [slot_of(a) for a in answer.body["alternatives"]]
    assert offered, answer.body
    assert taken not in offered
    for alternative in offered:
        check = world.driver.check(alternative, call_id="call_a")
        assert check.status == "available", (alternative, check.body)
    return offered


def _check_then_think(world: World) -> Slot:
    world.freeze_if_possible()
    slot = world.slot(days_ahead=1, hour=14)
    check = world.driver.check(slot, call_id="call_a")
    assert check.status == "available", check.body
    return slot


def _caller_a_confirms(world: World, slot: Slot) -> Answer:
    if world.has("clock"):
        world.clock.advance(THINKING_S)
    return world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                call_id="call_a")


@pytest.mark.needs("book", "check")
def test_another_caller_books_the_slot_during_the_14_seconds(world: World) -> None:
    slot = _check_then_think(world)
    other = world.driver.collect(slot, name="Bernd Brot", telefon="+4915122222222",
                                 call_id="call_b")
    assert other.status == "booked", other.body

    answer = _caller_a_confirms(world, slot)

    assert answer.status == "slot_taken", answer.body
    offered = assert_alternatives_really_free(world, answer, slot)
    rebooked = world.driver.collect(offered[0], name="Anna Alt", telefon="+4915111111111",
                                    call_id="call_a")
    assert rebooked.status == "booked", rebooked.body


@pytest.mark.needs("book", "check", "ground_truth", "outside_changes")
def test_someone_books_in_calcom_directly_during_the_14_seconds(world: World) -> None:
    """The front desk books 14:00 in Cal.com; no webhook tells the service (webhooks off), so only
    asking Cal.com again right before booking can notice."""
    slot = _check_then_think(world)
    world.driver.take_slot(2001, slot, name="Frau am Empfang", email="empfang@example.com",
                           webhooks=False)

    answer = _caller_a_confirms(world, slot)

    assert answer.status == "slot_taken", answer.body
    assert_alternatives_really_free(world, answer, slot)
    assert len(world.upstream(start=slot)) == 1


@pytest.mark.needs("book", "check", "ground_truth", "calcom_journal", "faults")
def test_the_slot_goes_between_the_last_check_and_the_create(world: World) -> None:
    """The narrowest gap: an outside booker takes 14:00 just before Cal.com handles the create
    (`slot_steal`), after every check of the service said "free". Cal.com refuses ("User either
    already has booking at this time or is not available"); the caller hears slot_taken."""
    slot = _check_then_think(world)
    world.arm(fault("steal", slot_steal("Schneller Sepp", "sepp@example.com"), nth=1))

    answer = _caller_a_confirms(world, slot)

    assert answer.status == "slot_taken", answer.body
    if world.has("voice_api"):  # the reason's name is the voice API's
        assert answer.body["reason"] == "host_busy"
    assert_alternatives_really_free(world, answer, slot)
    [held] = world.upstream(start=slot)
    assert held["origin"]["kind"] == "outside"
