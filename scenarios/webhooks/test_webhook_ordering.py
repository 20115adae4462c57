"""Webhooks arriving out of order never move a booking backwards (seeds/001 §5.2 bi-directional
sync; seeds/002 §4.1 webhook integration).

Cal.com sends each event as it happens, but nothing guarantees arrival order (parallel workers,
retries). The `webhook_reorder` fault holds one delivery back and sends it right after the next
one to the same subscriber. After `settle()` the drift checker compares every appointment with
Cal.com's ground truth.
"""

from __future__ import annotations

import pytest

from harness.faults import webhook_fault, webhook_reorder
from harness.world import World
from scenarios.rca._support import appointments

pytestmark = [pytest.mark.area("webhooks"),
              pytest.mark.rca("webhook-out-of-order")]


def held_back(trigger: str) -> dict:
    return webhook_fault(f"{trigger.lower()}-late", webhook_reorder(), event=trigger)


def held_back_fired(world: World) -> int:
    """How many deliveries the reorder fault held back (so the scenario really reordered)."""
    return sum(f["fired"] for f in world.fake.faults()["faults"]
               if f["action"]["kind"] == "webhook_reorder")


@pytest.mark.defense("webhook_ordering")
@pytest.mark.needs("appointments", "webhooks", "ground_truth", "calcom_journal", "faults",
                   "outside_changes")
def test_a_late_created_does_not_revive_a_cancelled_outside_booking(world: World) -> None:
    """Contract §2.8 `webhook_ordering`: somebody books S in Cal.com and cancels it again; the
    BOOKING_CANCELLED overtakes the BOOKING_CREATED. The service must remember the cancellation of
    a booking it has not seen yet, so the late CREATED does not import it as active."""
    world.arm(held_back("BOOKING_CREATED"))
    slot = world.slot(days_ahead=2, hour=10)
    outside = world.driver.take_slot(2001, slot, name="Outside Booker",
                                     email="outside@example.com")
    world.driver.outside_cancel(outside["uid"])
    world.settle()

    assert held_back_fired(world) == 1
    world.judge()  # with the defense off: db-matches-calcom (local scheduled, Cal.com cancelled)
    assert [a for a in appointments(world) if a["status"] in ("scheduled", "pending")] == []
    assert world.upstream() == []


@pytest.mark.defense("webhook_ordering")
@pytest.mark.needs("book", "cancel", "appointments", "webhooks", "calcom_journal", "faults")
def test_a_late_created_does_not_revive_a_booking_the_caller_cancelled(world: World) -> None:
    """The caller books and cancels by phone; the CREATED of their booking arrives last and
    finds the appointment already cancelled: it must not put it back to scheduled."""
    world.arm(held_back("BOOKING_CREATED"))
    slot = world.slot(days_ahead=2, hour=10)
    booked = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    cancelled = world.driver.cancel(call_id="call_a", appointment_id=booked.body["appointment_id"])
    world.settle()

    assert held_back_fired(world) == 1
    world.judge()  # with the defense off: db-matches-calcom (local scheduled, Cal.com cancelled)
    assert (booked.status, cancelled.status) == ("booked", "cancelled"), (booked.body,
                                                                          cancelled.body)
    [appointment] = appointments(world)
    assert appointment["status"] == "cancelled"


@pytest.mark.needs("appointments", "webhooks", "ground_truth", "calcom_journal", "faults",
                   "outside_changes")
def test_a_late_rescheduled_does_not_revive_a_booking_cancelled_after_the_move(
        world: World) -> None:
    """An outside booking is moved in Cal.com and the new booking is then cancelled; the
    BOOKING_RESCHEDULED arrives after the BOOKING_CANCELLED of the new booking. The old
    appointment must end `rescheduled`, and nothing may be active locally."""
    slot, later = world.slot(days_ahead=2, hour=10), world.slot(days_ahead=2, hour=15)
    outside = world.driver.take_slot(2001, slot, name="Outside Booker",
                                     email="outside@example.com")
    world.settle()
    world.arm(held_back("BOOKING_RESCHEDULED"))

    moved = world.driver.outside_reschedule(outside["uid"], later)
    world.driver.outside_cancel(moved["uid"])
    world.settle()
    assert held_back_fired(world) == 1

    world.judge()  # db-matches-calcom: the new booking is active locally, cancelled upstream
    assert world.upstream() == []
    active = [a for a in appointments(world) if a["status"] in ("scheduled", "pending")]
    assert active == [], active
