"""Basics every deployment must get right; black-box safe, so they also run against staging
(`calharness verify --target FILE`): no faults, no clock, no outside bookings."""

from __future__ import annotations

import pytest

from harness.world import World

pytestmark = pytest.mark.area("smoke")


@pytest.mark.needs("book", "check")
def test_free_slot_is_booked_once_and_second_caller_gets_alternatives(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=11)
    check = world.driver.check(slot, call_id="call_smoke_a")
    assert check.status == "available", check.body

    first = world.driver.collect(slot, name="Erika Mustermann", call_id="call_smoke_a",
                                 telefon="+4915112345670")
    assert first.status == "booked", first.body
    assert first.body["appointment_id"], first.body

    second = world.driver.collect(slot, name="Max Mustermann", call_id="call_smoke_b",
                                  telefon="+4915112345671")
    # One after the other there is no race: the exact answer is "taken", with times to offer.
    assert (second.status, second.body["success"]) == ("slot_taken", False), second.body
    assert second.body["alternatives"], "a refused caller must be offered other times"
    for alternative in second.body["alternatives"]:
        assert alternative["start"] != slot.start


@pytest.mark.needs("book")
def test_same_call_asking_again_gets_the_same_appointment(world: World) -> None:
    """A voice agent retries a function call it thinks failed: no second booking."""
    slot = world.slot(days_ahead=2, hour=14)
    first = world.driver.collect(slot, name="Jonas Weber", call_id="call_smoke_retry")
    again = world.driver.collect(slot, name="Jonas Weber", call_id="call_smoke_retry")
    assert first.status == "booked", first.body
    assert again.status == "booked", again.body
    assert again.body["appointment_id"] == first.body["appointment_id"]


@pytest.mark.needs("book", "tenant_reads", "second_tenant")
def test_tenant_reads_only_its_own_appointments(world: World) -> None:
    slot = world.slot(days_ahead=3, hour=9)
    booked = world.driver.collect(slot, name="Lena Fischer", call_id="call_smoke_tenant")
    assert booked.status == "booked", booked.body
    appointment_id = booked.body["appointment_id"]

    own = world.driver.read("appointment", world.berlin.api_key, world.berlin.id,
                            appointment_id=appointment_id)
    assert own.http_status == 200, own.body
    other = world.driver.read("appointment", world.hamburg.api_key, world.hamburg.id,
                              appointment_id=appointment_id)
    assert other.http_status == 404, other.body
