"""Freshness boundaries of a booking Cal.com hands back (seeds/003, Layer 1; seeds/000 TC-007).

The service refuses a returned booking whose `createdAt` is more than 30 s old (30 s itself is
still fresh; a booking without `createdAt` passes). Two families of scenarios pin the boundary,
both with the shared virtual clock frozen so every age is exact to the millisecond:

* the caller's *own* booking coming back: the first attempt of a call dies after Cal.com booked
  (a crash at `collect.before_insert`), the voice agent retries the same call N seconds later and
  Cal.com's round-robin dedupe returns the booking of the first attempt (same e-mail, same start;
  another idempotency key, so only its age speaks for it). Fresh → the caller is booked into it;
  stale → refused, and reconciliation links the orphaned booking to the call afterwards.
* *someone else's* booking coming back (contract §2.8, `freshness`): an outside booker with the
  caller's name and the company's fallback e-mail booked S long ago; Cal.com's dedupe hands it to
  the new caller. Age is the only layer that can tell: no call_id to compare, the same name, no
  webhook ever imported it. Without the freshness check the caller holds a stranger's booking.
"""

from __future__ import annotations

import pytest

from harness.checks import CheckOptions
from harness.faults import fault, rewrite
from harness.history import classify_answer
from harness.world import World
from scenarios.rca._support import HANS, appointments, dedupe_email, set_age

pytestmark = [pytest.mark.area("rca"),
              pytest.mark.rca("stale-booking-freshness")]

FRESH = [pytest.param(5, id="5s"), pytest.param(30, id="exactly-30s")]
STALE = [pytest.param(35, id="35s", marks=pytest.mark.defense("freshness")),
         pytest.param(120, id="2min", marks=pytest.mark.defense("freshness"))]


def _first_attempt_dies_after_calcom_booked(world: World, call_id: str) -> dict:
    """Call `call_id` asks for Teamtermin at S; Cal.com books it, then the service dies before
    storing the appointment. Returns the booking Cal.com holds for the call."""
    world.freeze()
    slot = world.slot(days_ahead=2, hour=11)
    crashed = world.crash_at("collect.before_insert")
    first = world.driver.collect(slot, name=HANS, call_id=call_id, service="Teamtermin")
    assert crashed
    assert first.status == "error", first.body  # the caller never heard "booked"
    [booking] = world.upstream(start=slot)
    assert booking["metadata"]["call_id"] == world.driver.call_id(call_id)
    return booking


@pytest.mark.rca("tc-001")
@pytest.mark.parametrize("age_s", FRESH)
@pytest.mark.needs("book", "ground_truth", "clock", "failpoints")
def test_a_retry_within_30s_gets_its_own_booking_back(world: World, age_s: int) -> None:
    call_id = "call_retry_fresh"
    booking = _first_attempt_dies_after_calcom_booked(world, call_id)
    set_age(world, booking["createdAt"], age_s)

    retry = world.driver.collect(world.slot(days_ahead=2, hour=11), name=HANS, call_id=call_id,
                                 service="Teamtermin")

    assert retry.status == "booked", retry.body
    assert retry.body["booking_uid"] == booking["uid"]  # Cal.com's dedupe, accepted as fresh
    assert len(world.upstream()) == 1


@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults", "clock", "failpoints")
def test_a_retry_gets_its_own_booking_back_without_created_at(world: World) -> None:
    """Cal.com's answer lacks `createdAt` (the `rewrite` fault drops it): the age is unknown, so
    the freshness layer lets it pass (and counts it); the other layers still vouch for it."""
    call_id = "call_retry_undated"
    booking = _first_attempt_dies_after_calcom_booked(world, call_id)
    set_age(world, booking["createdAt"], 120)  # would be stale, if Cal.com said so
    world.arm(fault("no-created-at", rewrite(**{"data.createdAt": None})))

    retry = world.driver.collect(world.slot(days_ahead=2, hour=11), name=HANS, call_id=call_id,
                                 service="Teamtermin")

    assert retry.status == "booked", retry.body
    assert retry.body["booking_uid"] == booking["uid"]


@pytest.mark.parametrize("age_s", STALE)
@pytest.mark.needs("book", "tenant_reads", "reconcile", "ground_truth", "clock", "failpoints")
def test_a_retry_after_30s_is_refused_and_reconciliation_links_the_booking(
        world: World, age_s: int) -> None:
    """The price of the freshness layer: a retry that comes back too late is refused although the
    booking is the caller's own (only its age was checked). Nothing is lost for good: the
    reconciliation finds the booking, sees the call in its metadata and links it to the call."""
    call_id = "call_retry_late"
    booking = _first_attempt_dies_after_calcom_booked(world, call_id)
    set_age(world, booking["createdAt"], age_s)

    retry = world.driver.collect(world.slot(days_ahead=2, hour=11), name=HANS, call_id=call_id,
                                 service="Teamtermin")
    assert retry.status == "stale_booking_data", retry.body
    assert retry.body["reason"] == "booking_too_old"
    assert retry.body["alternatives"]
    assert appointments(world) == []

    report = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert [m["booking_uid"] for m in report.body["missing"]] == [booking["uid"]]
    assert report.body["repaired"] == 1
    [linked] = appointments(world)
    assert (linked["call_id"], linked["booking_uid"]) == (world.driver.call_id(call_id),
                                                          booking["uid"])
    world.judge(CheckOptions(reconciled=True, expect_imported=True))


@pytest.mark.rca("duplicate-stale-booking", "tc-007")
@pytest.mark.defense("freshness")
@pytest.mark.parametrize("age_s", [pytest.param(35, id="35s"), pytest.param(120, id="2min"),
                                   pytest.param(35 * 60, id="35min")])
@pytest.mark.needs("book", "cancel", "appointments", "ground_truth", "outside_changes")
def test_someone_elses_old_booking_is_refused_as_stale(world: World, age_s: int) -> None:
    """Contract §2.8 `freshness`: round robin Teamtermin; "Hans Schuster" booked S outside the
    service with the company's fallback e-mail `age_s` ago (no call_id, webhooks off so nothing
    imported it). Another caller called Hans Schuster, without an e-mail, books S: Cal.com's dedupe
    returns the old booking. Only its age gives it away. Without a shared clock the booking is
    `age_s` old plus the few milliseconds to the caller's create: past 30 s either way (the
    exact boundary is pinned above, on the shared clock). A service with no fallback address
    meets the same dedupe when the caller gives the address the outside booker used
    (`dedupe_email`): the same name, the same address, only the age differs."""
    world.freeze_if_possible()
    slot = world.slot(days_ahead=2, hour=11)
    shared, given = dedupe_email(world)
    outside = world.driver.take_slot(2004, slot, name=HANS, email=shared, age_s=age_s,
                                     webhooks=False)

    answer = world.driver.collect(slot, name=HANS, call_id="call_688", service="Teamtermin",
                                  email=given)

    world.judge()  # with the defense off: no-stolen-booking names call_688 and this booking
    assert classify_answer("collect", answer.body) == "fail", answer.body  # refused
    if world.has("voice_api"):
        assert answer.status == "stale_booking_data", answer.body
        assert answer.body["reason"] == "booking_too_old"
    assert answer.body["alternatives"]
    assert [b["uid"] for b in world.upstream(start=slot)] == [outside["uid"]]
    assert appointments(world) == []
