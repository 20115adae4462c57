"""What Cal.com hands back is checked against the request (seeds/003 Layer 2; seeds/000 TC-008).

Contract §2.8 `call_id_match` and `attendee_match`. Both use Cal.com's round-robin dedupe: an
outside booking at S with the company's fallback e-mail (the address every caller without one is
booked with) comes back to a new caller who has no e-mail either. No webhook imported it, so
neither the local double-check nor the uid lookup knows it, and it passes freshness (5 s old but
carrying a call id; or made as the create arrived): exactly one layer is left to refuse it.
"""

from __future__ import annotations

import pytest

from harness.faults import fault, rewrite, slot_steal
from harness.history import classify_answer
from harness.world import World
from scenarios.rca._support import HANS, HANSI, appointments, dedupe_email, fallback_email

pytestmark = [pytest.mark.area("rca")]


def _outside_booking_then_caller(world: World, *, name: str, metadata: dict | None = None):
    # 5 s old on a frozen clock; without one a few ms more: fresh either way.
    world.freeze_if_possible()
    slot = world.slot(days_ahead=2, hour=14)
    outside = world.driver.take_slot(2004, slot, name=name, email=fallback_email(world),
                                     metadata=metadata, age_s=5, webhooks=False)
    answer = world.driver.collect(slot, name=HANS, call_id="call_688", service="Teamtermin")
    world.judge()  # with the defense off: no-stolen-booking (call_688 holds the outside booking)
    return slot, outside, answer


@pytest.mark.rca("call-id-mismatch", "tc-008")
@pytest.mark.defense("call_id_match")
@pytest.mark.needs("book", "cancel", "tenant_reads", "ground_truth", "outside_changes")
def test_a_booking_carrying_another_calls_id_is_refused(world: World) -> None:
    """Same name, fresh, but `metadata.call_id` names call 687: it was not made for 688."""
    slot, outside, answer = _outside_booking_then_caller(
        world, name=HANS, metadata={"call_id": world.driver.call_id("call_687")})
    assert answer.status == "stale_booking_data", answer.body
    assert answer.body["reason"] == "call_id_mismatch"
    assert answer.body["alternatives"]
    assert [b["uid"] for b in world.upstream(start=slot)] == [outside["uid"]]
    assert appointments(world) == []


@pytest.mark.rca("duplicate-stale-booking", "tc-008")
@pytest.mark.defense("attendee_match")
@pytest.mark.needs("book", "cancel", "appointments", "ground_truth", "calcom_journal", "faults")
def test_a_booking_for_another_attendee_is_refused(world: World) -> None:
    """No call_id to compare (the incident's fix lets that pass), not older than the request
    (the desk booked Hansi Sputer with the fallback e-mail as the create arrived: the fake's
    `slot_steal`, so freshness has nothing to say), but the attendee is Hansi Sputer, not the
    caller Hans Schuster. (Where the service has no fallback address, Hansi and the caller share
    one: `dedupe_email`.)"""
    world.freeze_if_possible()  # the steal is made as the create arrives: no age to arrange
    slot = world.slot(days_ahead=2, hour=14)
    shared, given = dedupe_email(world)
    world.arm(fault("desk-books-first", slot_steal(HANSI, shared), first=1))
    answer = world.driver.collect(slot, name=HANS, call_id="call_688", service="Teamtermin",
                                  email=given)
    world.judge()  # with the defense off: no-stolen-booking (call_688 holds Hansi's booking)
    assert classify_answer("collect", answer.body) == "fail", answer.body  # refused
    if world.has("voice_api"):
        assert answer.status == "stale_booking_data", answer.body
        assert answer.body["reason"] == "attendee_mismatch"
    assert answer.body["alternatives"]
    # nothing held for the caller: by call id, or (an API that records no call) by name
    assert [a for a in appointments(world) if a["call_id"] == world.driver.call_id("call_688")
            or (a.get("customer") or {}).get("name") == HANS] == []


@pytest.mark.rca("call-id-mismatch")
@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults")
def test_a_booking_without_call_id_for_the_same_attendee_passes_the_call_id_layer(
        world: World) -> None:
    """The other side of the call_id rule: a missing `call_id` passes (as in the incident's fix),
    so a fresh own booking coming back without metadata is not refused for it. Built from the
    caller's own booking whose create answer lost its metadata (the `rewrite` fault)."""
    world.freeze_if_possible()  # the caller's own booking is fresh, frozen or not
    slot = world.slot(days_ahead=2, hour=14)
    world.arm(fault("no-metadata", rewrite(**{"data.metadata": {}})))
    answer = world.driver.collect(slot, name=HANS, call_id="call_688", service="Beratung")
    assert answer.status == "booked", answer.body
    [booking] = world.upstream(start=slot)
    # Cal.com stored it (the call's id, or the call's contact); the answer hid the metadata
    assert world.made_for(booking) == world.driver.call_id("call_688")
    assert answer.body["booking_uid"] == booking["uid"]
