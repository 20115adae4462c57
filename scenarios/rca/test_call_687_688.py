"""The Call 687/688 incident (seeds/004, seeds/003): Cal.com answered a new booking request with
an existing booking — 35 minutes old, another caller's metadata and name — and the service
handed it to the new caller."""

from __future__ import annotations

import pytest

from harness.world import World

pytestmark = [pytest.mark.area("rca"), pytest.mark.embedded_only]


@pytest.mark.rca("duplicate-stale-booking")
def test_call_688_is_not_given_call_687s_booking(world: World) -> None:
    slot = world.slot(days_ahead=3, hour=10)
    # Call 687: a caller without an email address books the round-robin "Teamtermin"; the
    # service books her with the company's fallback email, as in the incident.
    first = world.driver.collect(slot, name="Hansi Sputer", call_id="call_927bf219b2cc20cd24dc97c9f0b",
                                 service="Teamtermin")
    assert first.status == "booked", first.body

    # 35 minutes later, Call 688 asks for the same slot, also without an email address.
    world.clock.advance(35 * 60)
    second = world.driver.collect(slot, name="Hans Schuster", call_id="call_39d2ade6f4fc16c51110ca49cdf",
                                  service="Teamtermin")

    # Several layers stand between 688 and 687's booking (the local double-check sees the slot
    # taken; had it not, Cal.com's dedupe answer would be refused as stale, as another call's,
    # as another attendee's, and as a booking uid another appointment holds). Whichever catches it, 688 is refused and offered other times;
    # the checkers then confirm nobody holds a booking made for someone else.
    assert second.status != "booked", second.body
    if second.status in ("slot_taken", "stale_booking_data"):
        assert second.body["alternatives"], "the caller should be offered other times"
