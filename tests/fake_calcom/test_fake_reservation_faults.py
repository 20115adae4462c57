"""Faults of the newer surface (contracts §1.5): a reservation that silently expires early, a
reservation answered for a slot that is already taken, confirm/decline racing a cancel."""

from __future__ import annotations

from typing import Any

import pytest

from fake_calcom import FakeServer
from fake_calcom.backend.faults import FaultPlan, FaultPlanError
from fake_calcom.testing import SLOTS_VERSION, TUESDAY_0930, CalcomApi

RESERVE = {"eventTypeId": 2001, "slotStart": TUESDAY_0930}


@pytest.fixture
def faults(fake: FakeServer):
    def _add(fault: dict[str, Any]) -> None:
        fake.state.faults.add(fault)

    return _add


def fired(fake: FakeServer, name: str) -> int:
    return next(f.fired for f in fake.state.faults.faults if f.name == name)


async def other_books(api: CalcomApi) -> int:
    body = {"start": TUESDAY_0930, "eventTypeId": 2001, "attendee": {"name": "O", "email": "o@example.com", "timeZone": "UTC"}}
    return (await api.post("/v2/bookings", body)).status


async def test_a_reservation_that_silently_expires_early(api: CalcomApi, fake: FakeServer, faults) -> None:
    faults({"name": "early", "match": {"method": "POST", "path": "/v2/slots/reservations"},
            "action": {"kind": "reservation_expire_early", "after_s": 30}})
    reply = await api.post("/v2/slots/reservations", RESERVE, version=SLOTS_VERSION)
    assert reply.status == 201
    assert reply.data["reservationUntil"] == "2025-10-06T09:45:00.000Z"  # the answer promises 5 min
    truth = fake.backend.ground_truth()["reservations"][0]
    assert (truth["releaseAt"], truth["faults"]) == ("2025-10-06T09:40:30.000Z", ["early"])
    assert await other_books(api) == 409
    fake.clock.advance(30)
    assert await other_books(api) == 201  # 4.5 min before the promised end, someone else got it
    assert fired(fake, "early") == 1


async def test_a_reservation_answered_for_a_slot_already_taken(api: CalcomApi, fake: FakeServer, faults) -> None:
    faults({"name": "taken", "match": {"method": "POST", "path": "/v2/slots/reservations"},
            "action": {"kind": "reservation_taken", "attendee": {"name": "Walk In", "email": "walkin@example.com"}}})
    reply = await api.post("/v2/slots/reservations", RESERVE, version=SLOTS_VERSION)
    assert reply.status == 201  # Cal.com would have said 422 "already booked"
    uid = reply.data["reservationUid"]
    truth = fake.backend.ground_truth()
    assert [b["attendees"][0]["email"] for b in truth["bookings"]] == ["walkin@example.com"]
    assert truth["bookings"][0]["origin"] == {"kind": "outside"}
    body = {"start": TUESDAY_0930, "eventTypeId": 2001, "reservedSlotUid": uid,
            "attendee": {"name": "H", "email": "h@example.com", "timeZone": "UTC"}}
    booked = await api.post("/v2/bookings", body)
    assert booked.status == 400  # the holder's create still meets the taken slot
    assert booked.json["error"]["message"] == "User either already has booking at this time or is not available"
    assert fired(fake, "taken") == 1


@pytest.mark.parametrize("action", ["confirm", "decline"])
async def test_confirm_or_decline_loses_to_a_cancel_that_landed_first(api: CalcomApi, fake: FakeServer, faults, action: str) -> None:
    faults({"name": "race", "match": {"method": "POST", "path": f"/v2/bookings/*/{action}"},
            "action": {"kind": "cancel_race", "phase": "before"}})
    uid = (await api.book(TUESDAY_0930, event_type_id=2003)).data["uid"]
    reply = await api.post(f"/v2/bookings/{uid}/{action}")
    # Cal.com's handler refuses only accepted bookings: the cancelled one is confirmed again
    # (or declined) — the attendee's cancel is overridden.
    assert reply.status == 200
    truth = next(b for b in fake.backend.ground_truth()["bookings"] if b["uid"] == uid)
    assert truth["status"] == ("accepted" if action == "confirm" else "rejected")
    assert truth["cancellationReason"] == "Cancelled by the attendee"
    assert fired(fake, "race") == 1


async def test_a_cancel_lands_right_after_the_confirm_answered(api: CalcomApi, fake: FakeServer, faults) -> None:
    faults({"name": "race", "match": {"method": "POST", "path": "/v2/bookings/*/confirm"},
            "action": {"kind": "cancel_race", "phase": "after", "reason": "Changed my mind"}})
    uid = (await api.book(TUESDAY_0930, event_type_id=2003)).data["uid"]
    reply = await api.post(f"/v2/bookings/{uid}/confirm")
    assert reply.status == 200
    assert reply.data["status"] == "accepted"  # what the client learns …
    truth = next(b for b in fake.backend.ground_truth()["bookings"] if b["uid"] == uid)
    assert (truth["status"], truth["cancellationReason"]) == ("cancelled", "Changed my mind")  # … and what is true
    assert fired(fake, "race") == 1


def test_the_new_fault_directives_are_validated() -> None:
    for bad in (
        {"kind": "reservation_expire_early", "after_s": -1},
        {"kind": "cancel_race", "phase": "during"},
        {"kind": "reservation_taken", "attendee": {"name": "x"}},
        {"kind": "cancel_race", "unknown": 1},
    ):
        with pytest.raises(FaultPlanError):
            FaultPlan.parse({"faults": [{"name": "f", "action": bad}]})
