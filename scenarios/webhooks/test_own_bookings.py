"""The webhooks of the service's own bookings never import them a second time (contract §2.7).

Every booking the voice flow makes comes back as a webhook. The voice flow owns it: the webhook
must not add an appointment — not after the flow stored it, and not when the webhook overtakes
the flow (it arrives between "Cal.com said yes" and "the appointment is stored"; forced with a
failpoint that delivers every queued webhook there). The checkers fail on two appointments for one
booking uid and on local double bookings; `expect_imported=True` demands that every active
booking has exactly its one appointment.
"""

from __future__ import annotations

import pytest

from harness.checks import CheckOptions
from harness.world import World
from scenarios.rca._support import appointments

pytestmark = [pytest.mark.area("webhooks")]

EVERYTHING_IMPORTED = CheckOptions(expect_imported=True)


@pytest.mark.parametrize(("service", "status"), [("Beratung", "scheduled"),
                                             ("Erstgespräch", "pending")])
@pytest.mark.needs("book", "appointments", "webhooks")
def test_the_webhook_of_a_voice_booking_adds_nothing(world: World, service: str,
                                                     status: str) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    booked = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a", service=service)
    world.settle()

    assert booked.status == "booked", booked.body
    [appointment] = appointments(world)
    assert (appointment["booking_uid"], appointment["status"], appointment["source"],
            appointment["call_id"]) == (booked.body["booking_uid"], status, "voice",
                                        world.driver.call_id("call_a"))
    world.judge(EVERYTHING_IMPORTED)


@pytest.mark.rca("duplicate-booking-uid")
@pytest.mark.needs("book", "appointments", "webhooks", "calcom_journal", "webhook_control",
                   "failpoints")
def test_a_webhook_that_overtakes_the_voice_flow_adds_nothing(world: World) -> None:
    """BOOKING_CREATED is delivered and handled while the voice flow waits at
    `collect.before_insert`: the booking's call is known, so the webhook leaves it to the flow."""
    held = world.deliver_webhooks_at("collect.before_insert")
    slot = world.slot(days_ahead=2, hour=10)

    booked = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")

    assert booked.status == "booked", booked.body
    assert [h["booking_uid"] for h in held] == [booked.body["booking_uid"]]
    created = [d for d in world.webhook_deliveries() if d["triggerEvent"] == "BOOKING_CREATED"]
    assert [d["outcome"] for d in created] == ["sent"]  # it did arrive before the insert
    [appointment] = appointments(world)
    assert (appointment["source"], appointment["call_id"]) == ("voice",
                                                               world.driver.call_id("call_a"))
    world.judge(EVERYTHING_IMPORTED)


@pytest.mark.needs("book", "reschedule", "appointments", "webhooks")
def test_the_webhook_of_a_voice_reschedule_adds_nothing(world: World) -> None:
    slot, later = world.slot(days_ahead=2, hour=10), world.slot(days_ahead=2, hour=15)
    booked = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    moved = world.driver.reschedule(call_id="call_a", appointment_id=booked.body["appointment_id"],
                                    new_slot=later)
    world.settle()

    assert moved.status == "rescheduled", moved.body
    assert sorted((a["status"], a["source"]) for a in appointments(world)) == [
        ("rescheduled", "voice"), ("scheduled", "voice")]
    world.judge(EVERYTHING_IMPORTED)
