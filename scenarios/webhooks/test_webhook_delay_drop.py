"""Late and lost webhooks (seeds/001 §5.1/§5.2; seeds/002 §4.1).

A delayed delivery (`webhook_delay`, real milliseconds) may arrive before or after the next step
of a scenario; these scenarios are built so that *either* order must end in the same state,
which is what they assert (and the drift checker confirms). A dropped delivery (`webhook_drop`)
never arrives: the service must not rely on it for availability, and reconciliation must find
and repair what it missed.
"""

from __future__ import annotations

import pytest

from harness.checks import CheckOptions
from harness.faults import webhook_delay, webhook_drop, webhook_fault
from harness.world import World
from scenarios.rca._support import appointments

pytestmark = [pytest.mark.area("webhooks")]


def on_delivery(trigger: str, action: dict) -> dict:
    return webhook_fault(f"{trigger.lower()}-{action['kind']}", action, event=trigger)


def delayed(trigger: str, ms: int = 200) -> dict:
    return on_delivery(trigger, webhook_delay(ms))


def dropped(trigger: str) -> dict:
    return on_delivery(trigger, webhook_drop())


@pytest.mark.rca("webhook-out-of-order")
@pytest.mark.needs("book", "appointments", "webhooks", "calcom_journal", "faults",
                   "outside_changes")
def test_a_delayed_created_does_not_open_the_slot_to_a_caller(world: World) -> None:
    """Somebody books S in Cal.com; its BOOKING_CREATED is late. A caller asking for S in the
    meantime is refused either way (the service asks Cal.com, not its webhook inbox), and the late
    delivery still imports the booking."""
    world.arm(delayed("BOOKING_CREATED"))
    slot = world.slot(days_ahead=2, hour=10)
    outside = world.driver.take_slot(2001, slot, name="Outside Booker",
                                     email="outside@example.com")

    answer = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    world.settle()

    assert answer.status == "slot_taken", answer.body
    assert answer.body["alternatives"], answer.body
    [imported] = appointments(world)
    assert (imported["booking_uid"], imported["source"]) == (outside["uid"], "webhook")
    world.judge(CheckOptions(expect_imported=True))


@pytest.mark.rca("webhook-out-of-order")
@pytest.mark.needs("book", "cancel", "appointments", "webhooks", "calcom_journal", "faults")
def test_a_delayed_created_of_the_callers_booking_changes_nothing(world: World) -> None:
    """The caller books and cancels; the CREATED of their booking is late (before or after the
    cancellation, depending on timing). Either way: one appointment, cancelled."""
    world.arm(delayed("BOOKING_CREATED"))
    slot = world.slot(days_ahead=2, hour=10)
    booked = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    cancelled = world.driver.cancel(call_id="call_a", appointment_id=booked.body["appointment_id"])
    world.settle()

    assert (booked.status, cancelled.status) == ("booked", "cancelled")
    [appointment] = appointments(world)
    assert (appointment["status"], appointment["source"]) == ("cancelled", "voice")


@pytest.mark.rca("local-calcom-drift")
@pytest.mark.needs("book", "appointments", "webhooks", "reconcile", "calcom_journal", "faults",
                   "outside_changes")
def test_a_dropped_created_is_found_and_imported_by_reconciliation(world: World) -> None:
    world.arm(dropped("BOOKING_CREATED"))
    slot = world.slot(days_ahead=2, hour=10)
    outside = world.driver.take_slot(2001, slot, name="Outside Booker",
                                     email="outside@example.com")
    world.settle()
    assert appointments(world) == []

    # The service never heard of it, but does not offer the slot either.
    answer = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    assert answer.status == "slot_taken", answer.body

    found = world.driver.reconcile(world.berlin.api_key)
    assert [m["booking_uid"] for m in found.body["missing"]] == [outside["uid"]]
    assert found.body["repaired"] == 0
    assert appointments(world) == []
    repaired = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert repaired.body["repaired"] == 1
    [imported] = appointments(world)
    assert (imported["booking_uid"], imported["source"], imported["call_id"]) == (
        outside["uid"], "reconcile", None)
    world.judge(CheckOptions(expect_imported=True, reconciled=True))


@pytest.mark.rca("local-calcom-drift")
@pytest.mark.needs("book", "appointments", "webhooks", "reconcile", "ground_truth",
                   "calcom_journal", "faults", "outside_changes")
def test_a_dropped_cancellation_is_found_and_applied_by_reconciliation(world: World) -> None:
    """The caller's booking is cancelled in Cal.com (the front desk); the BOOKING_CANCELLED never
    arrives, so the service still shows it scheduled — until reconciliation."""
    world.arm(dropped("BOOKING_CANCELLED"))
    slot = world.slot(days_ahead=2, hour=10)
    booked = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    world.driver.outside_cancel(booked.body["booking_uid"])
    world.settle()
    assert [a["status"] for a in appointments(world)] == ["scheduled"]

    found = world.driver.reconcile(world.berlin.api_key)
    assert [(o["booking_uid"], o["reason"]) for o in found.body["orphans"]] == [
        (booked.body["booking_uid"], "cancelled_upstream")]
    repaired = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert repaired.body["repaired"] == 1
    assert [a["status"] for a in appointments(world)] == ["cancelled"]
    assert world.upstream() == []
    world.judge(CheckOptions(expect_imported=True, reconciled=True))
