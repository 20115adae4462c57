"""A slot offered to a caller is held for them while they decide (issue 12; Cal.com's slot
reservations, docs/contracts.md §1.8).

Caller A asks whether a slot is free, giving their phone number with the question (the check
carries it, as the booking will), and hears "yes". While A is still talking, caller B (another
call, another phone number) books that same slot through the same service. A service
that holds what it offered (`holds`: it reserves the slot at Cal.com for A) refuses B, with
other times to offer, and books A. One that does not hold books B and then has to tell A that
the slot it has just offered is gone: this scenario fails it, on the assertion about B
(`tests/examples/test_rest_holds.py` runs these steps against the REST example both ways).
The invariant checkers then judge the run as always.

A hold is not forever: it runs out on Cal.com's clock, and a caller who never books must not
keep the slot from others. The second scenario moves the shared clock to one second before the
hold's end (B still refused), then past it (B books, and A — too late — is refused). It needs
the shared clock: a black-box target has none, and moving the fake's clock alone would move
time under every other scenario of the run, so there it is skipped; `tests/examples/` proves
the release against the REST example with the fake's clock, which that example shares.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.clients.service import Answer
from harness.slots import Slot, parse_z
from harness.world import World
from scenarios.races._support import LOSER_STATUSES

pytestmark = [pytest.mark.area("races")]

CALLER_A, CALLER_B = "Anna Abwarten", "Bernd Zugreifer"


class Caller:
    """A caller who gives their number from the first question on (a holding service keeps
    the slot for that number): the check and the booking carry the same one."""

    def __init__(self, world: World, call_id: str, name: str) -> None:
        self.world, self.call_id, self.name = world, call_id, name
        self.phone = world.session.new_phone()  # this run's own: attribution stays exact

    def asks(self, slot: Slot) -> Answer:
        """The service says the slot is free (and, holding, keeps it for this caller)."""
        heard = self.world.driver.check(slot, call_id=self.call_id, telefon=self.phone)
        assert heard.status == "available", \
            f"the slot was not offered to {self.call_id}: {heard.body}"
        return heard

    def books(self, slot: Slot) -> Answer:
        return self.world.driver.collect(slot, call_id=self.call_id, name=self.name,
                                         telefon=self.phone)


def assert_refused(answer: Answer, what: str) -> None:
    assert answer.status in LOSER_STATUSES, f"{what}: {answer.body}"
    assert answer.body["success"] is False, answer.body
    assert answer.body["alternatives"], f"no other times offered: {answer.body}"


def a_held_slot_is_kept_for_its_caller(world: World) -> None:
    """The race, step by step (each step waits for the one before: no scheduler involved)."""
    slot = world.slot(days_ahead=2, hour=11)
    a = Caller(world, "call_hold_a", CALLER_A)
    b = Caller(world, "call_hold_b", CALLER_B)
    a.asks(slot)

    intruder = b.books(slot)  # while A still talks
    assert_refused(intruder, "caller B booked the slot just offered to caller A")

    kept = a.books(slot)
    assert kept.status == "booked", f"caller A lost the slot offered to them: {kept.body}"
    assert kept.body["start"] == slot.start, kept.body


def an_unused_hold_is_released(world: World, advance: Callable[[float], None]) -> None:
    """A holds and never books; time moves on `advance` (the clock Cal.com and the service
    share). A service that holds says until when (`held_until`, UTC)."""
    slot = world.slot(days_ahead=2, hour=15, minute=30)
    a = Caller(world, "call_lapse_a", CALLER_A)
    b = Caller(world, "call_lapse_b", CALLER_B)
    heard = a.asks(slot)
    until = heard.body.get("held_until")
    assert until, f"a service that holds says until when (held_until): {heard.body}"
    left = (parse_z(str(until)) - world.now()).total_seconds()
    assert left > 1, f"held for {left:.1f} s only: {heard.body}"

    advance(left - 1)  # one second before the hold runs out: still A's
    early = b.books(slot)
    assert_refused(early, "caller B booked a slot still held for caller A")

    advance(2)  # past it: Cal.com has let the slot go
    late = b.books(slot)
    assert late.status == "booked", f"a hold outlived its time: {late.body}"
    too_late = a.books(slot)
    assert_refused(too_late, "caller A, whose hold ran out, was booked onto B's slot")


@pytest.mark.needs("check", "book", "holds")
def test_a_slot_offered_to_a_caller_is_kept_for_them(world: World) -> None:
    a_held_slot_is_kept_for_its_caller(world)


@pytest.mark.needs("check", "book", "holds", "clock")
def test_a_hold_the_caller_never_uses_is_released_on_the_clock(world: World) -> None:
    world.freeze()
    an_unused_hold_is_released(world, world.clock.advance)
