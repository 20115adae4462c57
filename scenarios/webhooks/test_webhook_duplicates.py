"""Duplicate webhook deliveries are applied once (seeds/001 §1.3 webhook idempotency).

Cal.com may POST one delivery more than once (a retry after a slow answer, a redelivery from its
dashboard). The `webhook_duplicate` fault sends the identical body N times; the service must
apply each delivery once. The webhook checker reads the service's audit log (every webhook effect
names its delivery's sha256) and `processed_webhooks`, and fails on any delivery that took effect
twice. A delivery applied twice usually ends in the same state as one applied once, so only that
audit log can tell: these scenarios need the service's state (`service_state`).
"""

from __future__ import annotations

import pytest

from harness.faults import webhook_duplicate, webhook_fault
from harness.world import World
from scenarios.rca._support import appointments

pytestmark = [pytest.mark.area("webhooks"),
              pytest.mark.rca("webhook-duplicate"), pytest.mark.defense("webhook_dedupe")]


def duplicate(trigger: str, copies: int = 2) -> dict:
    return webhook_fault(f"{trigger.lower()}-x{copies}", webhook_duplicate(copies),
                         event=trigger)


@pytest.mark.needs("book", "reschedule", "appointments", "webhooks", "calcom_journal", "faults",
                   "service_state")
def test_a_duplicated_rescheduled_delivery_is_applied_once(world: World) -> None:
    """Contract §2.8 `webhook_dedupe`: a caller moves their appointment by phone; Cal.com's
    BOOKING_RESCHEDULED for it arrives twice, byte for byte. The first copy is applied (it
    confirms the move the voice flow already made), the second must be recognised."""
    slot, later = world.slot(days_ahead=2, hour=10), world.slot(days_ahead=2, hour=15)
    booked = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    assert booked.status == "booked", booked.body
    world.settle()
    world.arm(duplicate("BOOKING_RESCHEDULED"))

    moved = world.driver.reschedule(call_id="call_a", appointment_id=booked.body["appointment_id"],
                                    new_slot=later)
    world.settle()

    world.judge()  # with the defense off: webhook-applied-once ("rescheduled ×2")
    assert moved.status == "rescheduled", moved.body
    assert sorted((a["status"], a["start"]) for a in appointments(world)) == [
        ("rescheduled", slot.start), ("scheduled", later.start)]
    sent = [d for d in world.webhook_deliveries() if d["triggerEvent"] == "BOOKING_RESCHEDULED"]
    assert [d["copy"] for d in sent] == [1, 2]
    assert len({d["body_sha256"] for d in sent}) == 1  # one body, sent twice


@pytest.mark.needs("appointments", "webhooks", "calcom_journal", "faults", "outside_changes",
                   "service_state")
def test_a_booking_created_delivered_three_times_is_imported_once(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    world.arm(duplicate("BOOKING_CREATED", copies=3))

    outside = world.driver.take_slot(2001, slot, name="Outside Booker",
                                     email="outside@example.com")
    world.settle()

    world.judge()  # with the defense off: the 2nd and 3rd copy re-apply the status
    [imported] = appointments(world)
    assert (imported["booking_uid"], imported["status"], imported["source"]) == (
        outside["uid"], "scheduled", "webhook")


@pytest.mark.needs("appointments", "webhooks", "ground_truth", "calcom_journal", "faults",
                   "outside_changes", "service_state")
def test_a_cancellation_delivered_twice_cancels_once(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    outside = world.driver.take_slot(2001, slot, name="Outside Booker",
                                     email="outside@example.com")
    world.settle()
    world.arm(duplicate("BOOKING_CANCELLED"))

    world.driver.outside_cancel(outside["uid"])
    world.settle()

    world.judge()  # with the defense off: webhook-applied-once ("cancelled ×2")
    [cancelled] = appointments(world)
    assert cancelled["status"] == "cancelled"
    assert world.upstream() == []
