"""Bookings made outside the voice service show up locally through their webhooks (seeds/001
§5.2 bi-directional sync; contract §2.7).

Somebody books, requests, moves or cancels in Cal.com directly (the booking page, the front desk).
Each BOOKING_CREATED / BOOKING_REQUESTED / BOOKING_RESCHEDULED / BOOKING_CANCELLED must leave the
service's appointments matching Cal.com — which the drift checker confirms with
`expect_imported=True` (every active Cal.com booking has its appointment).
"""

from __future__ import annotations

import pytest

from harness.checks import CheckOptions
from harness.world import World
from scenarios.rca._support import appointments, company_id

pytestmark = [pytest.mark.area("webhooks"),
              pytest.mark.rca("local-calcom-drift")]

EVERYTHING_IMPORTED = CheckOptions(expect_imported=True)


def by_uid(world: World) -> dict[str, dict]:
    return {a["booking_uid"]: a for a in appointments(world)}


@pytest.mark.needs("appointments", "webhooks", "outside_changes")
def test_created_and_requested_bookings_are_imported(world: World) -> None:
    beratung, erstgespraech = world.slot(days_ahead=2, hour=10), world.slot(days_ahead=2, hour=13)
    created = world.driver.take_slot(2001, beratung, name="Olga Outside", email="olga@example.com")
    requested = world.driver.take_slot(2003, erstgespraech, name="Paul Pending",
                                       email="paul@example.com")
    world.settle()

    imported = by_uid(world)
    assert requested["status"] == "pending"  # Erstgespräch requires confirmation
    assert {uid: (a["status"], a["service"], a["start"], a["customer"]["name"], a["source"])
            for uid, a in imported.items()} == {
        created["uid"]: ("scheduled", "Beratung", beratung.start, "Olga Outside", "webhook"),
        requested["uid"]: ("pending", "Erstgespräch", erstgespraech.start, "Paul Pending",
                           "webhook")}
    world.judge(EVERYTHING_IMPORTED)


@pytest.mark.needs("appointments", "webhooks", "outside_changes")
def test_a_booking_moved_in_calcom_is_moved_locally(world: World) -> None:
    slot, later = world.slot(days_ahead=2, hour=10), world.slot(days_ahead=3, hour=11)
    outside = world.driver.take_slot(2001, slot, name="Olga Outside", email="olga@example.com")
    world.settle()

    moved = world.driver.outside_reschedule(outside["uid"], later)
    world.settle()

    imported = by_uid(world)
    assert (imported[outside["uid"]]["status"], imported[moved["uid"]]["status"]) == (
        "rescheduled", "scheduled")
    assert imported[moved["uid"]]["start"] == later.start
    assert imported[moved["uid"]]["customer"]["name"] == "Olga Outside"
    world.judge(EVERYTHING_IMPORTED)


@pytest.mark.needs("book", "appointments", "webhooks", "outside_changes")
def test_a_booking_cancelled_in_calcom_is_cancelled_locally(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    outside = world.driver.take_slot(2001, slot, name="Olga Outside", email="olga@example.com")
    world.settle()
    world.driver.outside_cancel(outside["uid"])
    world.settle()

    assert [a["status"] for a in appointments(world)] == ["cancelled"]
    # The freed slot is bookable by a caller again.
    answer = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a")
    assert answer.status == "booked", answer.body
    world.judge(EVERYTHING_IMPORTED)


@pytest.mark.defense("tenant_isolation")
@pytest.mark.needs("tenant_reads", "second_tenant", "outside_changes")
def test_bookings_of_the_other_tenant_land_in_that_tenant(world: World) -> None:
    """A Hamburg booking (event type 2006) is imported into Praxis Hamburg, not Berlin."""
    slot = world.slot(days_ahead=2, hour=10)
    outside = world.driver.take_slot(2006, slot, name="Hanne Hamburg", email="hanne@example.com")
    world.settle()

    berlin, hamburg = appointments(world, world.berlin), appointments(world, world.hamburg)
    world.judge(EVERYTHING_IMPORTED)  # with tenant_isolation off: Berlin's read leaks Hamburg's
    assert berlin == []
    [imported] = hamburg
    assert (imported["booking_uid"], imported["company_id"]) == (
        outside["uid"], company_id(world.hamburg, hamburg))
