"""The Call 687/688 incident (seeds/004, seeds/003): Cal.com answered a new booking request with
an existing booking — 35 minutes old, another caller's metadata and name — and the service
handed it to the new caller."""

from __future__ import annotations

import pytest

from harness.faults import fault, stale_replay
from harness.history import classify_answer
from harness.world import World
from scenarios.rca._support import HANS, HANSI, appointments, dedupe_email

pytestmark = [pytest.mark.area("rca")]


@pytest.mark.rca("duplicate-stale-booking")
@pytest.mark.needs("book", "cancel", "ground_truth")
def test_call_688_is_not_given_call_687s_booking(world: World) -> None:
    slot = world.slot(days_ahead=3, hour=10)
    # Call 687: a caller without an email address books the round-robin "Teamtermin"; the
    # service books her with the company's fallback email, as in the incident. (A service with
    # no fallback address: both callers give one family address, `dedupe_email`.)
    _shared, given = dedupe_email(world)
    first = world.driver.collect(slot, name="Hansi Sputer", call_id="call_927bf219b2cc20cd24dc97c9f0b",
                                 service="Teamtermin", email=given)
    assert first.status == "booked", first.body

    # 35 minutes later (on the shared clock, where the target has one: the age is only one of
    # the layers below), Call 688 asks for the same slot, also without an email address.
    if world.has("clock"):
        world.clock.advance(35 * 60)
    second = world.driver.collect(slot, name="Hans Schuster", call_id="call_39d2ade6f4fc16c51110ca49cdf",
                                  service="Teamtermin", email=given)

    # Several layers stand between 688 and 687's booking (the local double-check sees the slot
    # taken; had it not, Cal.com's dedupe answer would be refused as stale, as another call's,
    # as another attendee's, and as a booking uid another appointment holds). Whichever catches it, 688 is refused and offered other times;
    # the checkers then confirm nobody holds a booking made for someone else.
    assert second.status != "booked", second.body
    if world.has("voice_api"):  # the second host is free: Cal.com's dedupe answer is refused
        assert second.status == "stale_booking_data", second.body
    refused = second.status in ("slot_taken", "stale_booking_data") or (
        not world.has("voice_api") and classify_answer("collect", second.body) == "fail")
    if refused:
        assert second.body["alternatives"], "the caller should be offered other times"


@pytest.mark.rca("duplicate-stale-booking")
@pytest.mark.needs("book", "appointments", "calcom_journal", "faults")
def test_call_688_refuses_call_687s_booking_replayed_for_a_plain_event_type(world: World) -> None:
    """The incident as Cal.com's *stale answer* rather than its round-robin dedupe: the `stale_replay`
    fault answers 688's create with the active booking at that start, whatever the event type —
    Cal.com's answer in the incident.

    687 booked Haarschnitt (host Ben) at S; 688 asks for Beratung (host Anna) at S, so the local
    double-check and Cal.com's slots both say "free" and the create really goes out. The answer is
    687's booking (other call, other name, other event type; 35 minutes old on the shared clock,
    where the target has one): the service must refuse it and offer other times instead of
    booking 688 into 687's appointment."""
    world.freeze_if_possible()
    slot = world.slot(days_ahead=3, hour=10)
    first = world.driver.collect(slot, name=HANSI, call_id="call_927bf219b2cc20cd24dc97c9f0b",
                                 service="Haarschnitt")
    assert first.status == "booked", first.body

    if world.has("clock"):
        world.clock.advance(35 * 60)
    # keyed on the start alone: a caller need not give the e-mail address the replay matches by
    world.arm(fault("stale-replay", stale_replay(key="start")))
    second = world.driver.collect(slot, name=HANS, call_id="call_39d2ade6f4fc16c51110ca49cdf",
                                  service="Beratung")

    world.judge()  # without the checks on the answer: no-stolen-booking (688 holds 687's)
    assert classify_answer("collect", second.body) == "fail", second.body  # refused
    if world.has("voice_api"):
        assert second.status == "stale_booking_data", second.body
        # The first layer that sees it is freshness; call_id and attendee checks would refuse
        # it too (without the shared clock it is fresh: one of those).
        assert second.body["reason"] in ("booking_too_old", "call_id_mismatch",
                                         "attendee_mismatch")
    assert second.body["alternatives"], "the caller should be offered other times"
    assert second.body.get("booking_uid") is None
    assert len(appointments(world)) == 1
