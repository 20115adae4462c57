"""The REST example's `--hold` (careful mode): a slot a caller's availability check finds free
is reserved at Cal.com for that caller (the service in-process next to the `fake_calcom`
fixture, sharing its frozen clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rest_support import ADA, API_KEY, BOB, SLOT, StartService, calcom_bookings

from examples.rest_booking import Settings
from examples.rest_booking.__main__ import main
from harness.slots import parse_z

CREATE = {"method": "POST", "path": "/v2/bookings"}
SLOTS = {"method": "GET", "path": "/v2/slots"}
RESERVE = {"method": "POST", "path": "/v2/slots/reservations"}
HELD_UNTIL = "2026-03-02T08:05:00Z"  # NOW + Cal.com's default 5 minutes


async def offer(service: Any, phone: str | None, start: str = SLOT) -> tuple[int, Any]:
    params = {"service": "Beratung", "start": start, **({"phone": phone} if phone else {})}
    return await service.call("GET", "/availability", **params)


def reservations(calcom: Any) -> list[dict[str, Any]]:
    return list(calcom.control.state()["reservations"])


def creates(calcom: Any) -> list[dict[str, Any]]:
    return [e for e in calcom.control.journal()["entries"]
            if (e["method"], e["path"]) == ("POST", "/v2/bookings")]


# -- the API --------------------------------------------------------------------------------------


async def test_a_free_slot_is_held_for_the_caller_who_asked(start_service: StartService,
                                                            calcom: Any) -> None:
    service = await start_service("careful", hold=True)
    status, ada = await offer(service, ADA)
    assert (status, ada) == (200, {"available": True, "start": SLOT, "alternatives": [],
                                   "held_until": HELD_UNTIL})
    [held] = reservations(calcom)
    assert (held["eventTypeId"], parse_z(held["start"]), held["holding"]) == (
        2001, parse_z(SLOT), True)

    # asking again keeps the one hold (Cal.com shows the holder its own reserved slot)
    assert (await offer(service, ADA))[1]["held_until"] == HELD_UNTIL
    assert len(reservations(calcom)) == 1
    # everyone else: not free, other times offered
    for phone in (BOB, None):
        status, other = await offer(service, phone)
        assert (status, other["available"]) == (200, False)
        assert other["alternatives"]
        assert "held_until" not in other

    status, refused = await service.book("Bob", BOB)
    assert (status, refused["error"]) == (409, "slot_taken")
    assert refused["alternatives"]
    assert SLOT not in refused["alternatives"]

    status, booked = await service.book("Ada", ADA)
    assert (status, booked["start"]) == (201, SLOT)
    [upstream] = calcom_bookings(calcom, ADA)
    assert upstream["uid"] == booked["calcom_uid"]
    assert creates(calcom)[-1]["request_body"]["reservedSlotUid"] == held["uid"]
    assert reservations(calcom) == []  # the booking consumed it
    assert calcom_bookings(calcom, BOB) == []


async def test_cal_com_itself_refuses_the_others_create(start_service: StartService,
                                                        calcom: Any) -> None:
    """Careful's second look (Cal.com's free slots, under the lock) already turns B away; when
    that look cannot be had, Cal.com's 409 for a reserved slot does, as `slot_taken`."""
    service = await start_service("careful", hold=True)
    await offer(service, ADA)
    calcom.control.add_fault({"match": SLOTS, "trigger": {"kind": "first", "k": 3},
                              "action": {"kind": "status", "status": 503}})
    status, refused = await service.book("Bob", BOB)
    assert (status, refused["error"], refused["reason"]) == (409, "slot_taken", "calcom_busy")
    assert refused["alternatives"]
    [create] = creates(calcom)
    assert create["status"] == 409
    assert "reservedSlotUid" not in create["request_body"]
    assert "Someone else reserved this booking time slot" in str(create["response_body"])
    assert (await service.book("Ada", ADA))[0] == 201


async def test_a_hold_runs_out_on_cal_coms_clock(start_service: StartService,
                                                 calcom: Any) -> None:
    service = await start_service("careful", hold=True)
    await offer(service, ADA)
    calcom.clock.advance(299)
    assert (await service.book("Bob", BOB))[0] == 409
    calcom.clock.advance(2)
    [lapsed] = reservations(calcom)
    assert lapsed["holding"] is False
    status, bob = await service.book("Bob", BOB)
    assert (status, bob["start"]) == (201, SLOT)
    status, ada = await service.book("Ada", ADA)
    assert (status, ada["error"]) == (409, "slot_taken")
    assert calcom_bookings(calcom, ADA) == []
    # and asked again, the slot is not offered to her: B holds it now
    assert (await offer(service, ADA))[1]["available"] is False


async def test_two_callers_asking_at_once_one_holds(start_service: StartService,
                                                   calcom: Any) -> None:
    service = await start_service("careful", hold=True)
    answers = await asyncio.gather(offer(service, ADA), offer(service, BOB))
    told = sorted((body["available"], "held_until" in body) for _, body in answers)
    assert told == [(False, False), (True, True)]
    assert len(reservations(calcom)) == 1


async def test_a_hold_granted_on_a_slot_booked_meanwhile(start_service: StartService,
                                                        calcom: Any) -> None:
    """Cal.com answers the reservation, but an outsider booked the slot just before
    (`reservation_taken`): the holder's create then meets a taken slot and is told so."""
    calcom.control.add_fault({"match": RESERVE, "trigger": {"kind": "first", "k": 1},
                              "action": {"kind": "reservation_taken"}})
    service = await start_service("careful", hold=True)
    assert (await offer(service, ADA))[1]["held_until"] == HELD_UNTIL
    status, refused = await service.book("Ada", ADA)
    assert (status, refused["error"]) == (409, "slot_taken")
    active = [b for b in calcom.control.state()["bookings"] if b["status"] == "accepted"]
    assert len(active) == 1  # the outsider's only
    assert calcom_bookings(calcom, ADA) == []


async def test_no_answer_to_the_reservation_offers_the_slot_unheld(
        start_service: StartService, calcom: Any) -> None:
    calcom.control.add_fault({"match": RESERVE, "trigger": {"kind": "always"},
                              "action": {"kind": "status", "status": 503}})
    service = await start_service("careful", hold=True)
    status, ada = await offer(service, ADA)
    assert (status, ada["available"]) == (200, True)
    assert "held_until" not in ada
    assert (await service.book("Bob", BOB))[0] == 201  # nothing held it


@pytest.mark.parametrize("hold", [False, True])
async def test_without_a_phone_or_without_hold_nothing_is_held(
        hold: bool, start_service: StartService, calcom: Any) -> None:
    service = await start_service("careful", hold=hold)
    status, answer = await offer(service, None if hold else ADA)
    assert (status, answer) == (200, {"available": True, "start": SLOT, "alternatives": []})
    assert reservations(calcom) == []
    status, bad = await offer(service, "030 1234")
    assert (status, bad["error"]) == (400, "invalid_request")


def test_hold_is_careful_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="careful"):
        Settings(calcom_url="http://127.0.0.1:9", calcom_api_key=API_KEY, hold=True)
    assert main(["--calcom-url", "http://127.0.0.1:9", "--calcom-api-key", API_KEY,
                 "--hold"]) == 2
    assert "--hold needs --mode careful" in capsys.readouterr().err
