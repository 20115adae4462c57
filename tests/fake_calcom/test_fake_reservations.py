"""Slot reservations really hold their slot, on the fake's virtual clock (no sleeps).

While a reservation holds: other callers do not see the slot in /v2/slots and their creates for
it are refused (409, Cal.com's "Someone else reserved…"); the holder's own create with its
reservation uid succeeds and consumes the reservation. After expiry or release it is free.
"""

from __future__ import annotations

from typing import Any

import pytest

from fake_calcom import FakeServer
from fake_calcom.client import AsyncFakeControl
from fake_calcom.testing import BEN_KEY, SLOTS_VERSION, TUESDAY_0930, TUESDAY_1000, CalcomApi, Reply

SLOT = TUESDAY_0930  # Tuesday 09:30 Berlin, event type 2001 (Anna, 30 min)
BODY = {"eventTypeId": 2001, "slotStart": SLOT}


async def reserve(api: CalcomApi, **extra: Any) -> dict[str, Any]:
    reply = await api.post("/v2/slots/reservations", {**BODY, **extra}, version=SLOTS_VERSION)
    assert reply.status == 201, reply.raw
    return reply.data


async def free_starts(api: CalcomApi, *, cookie: str | None = None) -> list[str]:
    params = {"eventTypeId": "2001", "start": "2025-10-07", "end": "2025-10-07"}
    headers = {"Cookie": f"uid={cookie}"} if cookie else None
    reply = await api.get("/v2/slots", version=SLOTS_VERSION, params=params, headers=headers, key=None)
    assert reply.status == 200
    return [slot["start"] for slots in reply.data.values() for slot in slots]


async def book(api: CalcomApi, email: str, **extra: Any) -> Reply:
    body = {
        "start": SLOT,
        "eventTypeId": 2001,
        "attendee": {"name": email.split("@")[0], "email": email, "timeZone": "Europe/Berlin"},
        **extra,
    }
    return await api.post("/v2/bookings", body)


def reservations(fake: FakeServer) -> list[dict[str, Any]]:
    return fake.backend.ground_truth()["reservations"]


async def test_a_reserved_slot_is_busy_for_others_until_it_expires(api: CalcomApi, fake: FakeServer) -> None:
    reservation = await reserve(api)
    assert reservation["reservationDuration"] == 5
    assert reservation["reservationUntil"] == "2025-10-06T09:45:00.000Z"  # 5 min on the frozen clock
    assert SLOT not in await free_starts(api)
    assert SLOT in await free_starts(api, cookie=reservation["reservationUid"])  # the holder's view

    refused = await book(api, "other@example.com")
    assert refused.status == 409
    assert refused.json["error"]["message"] == (
        "Someone else reserved this booking time slot before you. This time slot will be freed up in 300 seconds."
    )
    fake.clock.advance(299)
    assert "in 1 seconds" in (await book(api, "other@example.com")).json["error"]["message"]
    assert SLOT not in await free_starts(api)

    fake.clock.advance(1)  # releaseAt reached: no longer held
    assert SLOT in await free_starts(api)
    assert reservations(fake)[0]["holding"] is False
    assert (await book(api, "other@example.com")).status == 201


async def test_the_holder_books_with_its_reservation_uid_and_consumes_it(api: CalcomApi, fake: FakeServer) -> None:
    uid = (await reserve(api))["reservationUid"]
    assert (await book(api, "other@example.com", reservedSlotUid="not-mine")).status == 409
    mine = await book(api, "holder@example.com", reservedSlotUid=uid)
    assert mine.status == 201, mine.raw
    assert reservations(fake) == []  # consumed with the booking
    assert (await api.get(f"/v2/slots/reservations/{uid}", version=SLOTS_VERSION)).data is None


async def test_a_released_reservation_frees_the_slot_at_once(api: CalcomApi, fake: FakeServer) -> None:
    uid = (await reserve(api))["reservationUid"]
    assert (await book(api, "other@example.com")).status == 409
    deleted = await api.call("DELETE", f"/v2/slots/reservations/{uid}", version=SLOTS_VERSION)
    assert deleted.status == 200
    assert deleted.json == {"status": "success"}
    assert SLOT in await free_starts(api)
    assert (await book(api, "other@example.com")).status == 201
    again = await api.call("DELETE", f"/v2/slots/reservations/{uid}", version=SLOTS_VERSION)
    assert again.status == 200  # Cal.com's deleteMany: nothing to delete is no error


async def test_reservation_duration_and_update(api: CalcomApi, fake: FakeServer) -> None:
    longer = await reserve(api, reservationDuration=15)
    assert longer["reservationUntil"] == "2025-10-06T09:55:00.000Z"
    fake.clock.advance(10 * 60)
    assert (await book(api, "other@example.com")).status == 409  # still held at +10 min
    moved = await api.call(
        "PATCH",
        f"/v2/slots/reservations/{longer['reservationUid']}",
        {"eventTypeId": 2001, "slotStart": TUESDAY_1000},
        version=SLOTS_VERSION,
    )
    assert moved.status == 200, moved.raw
    assert moved.data["slotStart"] == TUESDAY_1000
    assert moved.data["reservationUntil"] == "2025-10-06T09:55:00.000Z"  # 5 min from now (+10)
    assert (await book(api, "other@example.com")).status == 201  # 09:30 is free again
    got = await api.get(f"/v2/slots/reservations/{longer['reservationUid']}", version=SLOTS_VERSION)
    assert got.data == {k: v for k, v in moved.data.items() if k != "reservationDuration"}


async def test_reservation_refusals_as_cal_com_answers_them(api: CalcomApi, fake: FakeServer) -> None:
    await reserve(api)
    taken = await api.post("/v2/slots/reservations", BODY, version=SLOTS_VERSION, key=BEN_KEY)
    assert taken.status == 422
    assert taken.json["error"]["message"] == (
        "This time slot is already reserved by another user. Please choose a different time."
    )
    assert (await book(api, "first@example.com", reservedSlotUid=reservations(fake)[0]["uid"])).status == 201
    booked = await api.post("/v2/slots/reservations", BODY, version=SLOTS_VERSION)
    assert booked.status == 422
    assert booked.json["error"]["message"] == "Can't reserve a slot if the event is already booked."

    anonymous = await api.post(
        "/v2/slots/reservations", {**BODY, "reservationDuration": 10}, version=SLOTS_VERSION, key=None
    )
    assert anonymous.status == 401
    assert anonymous.json["error"]["message"].startswith("reservationDuration can only be used for authenticated")
    unknown = await api.post("/v2/slots/reservations", {**BODY, "eventTypeId": 9}, version=SLOTS_VERSION)
    assert (unknown.status, unknown.json["error"]["message"]) == (404, "Event Type with ID=9 not found")
    variable = await api.post("/v2/slots/reservations", {**BODY, "slotDuration": 60}, version=SLOTS_VERSION)
    assert variable.status == 400
    invalid = await api.post("/v2/slots/reservations", {"eventTypeId": "x", "slotStart": "soon"}, version=SLOTS_VERSION)
    assert invalid.status == 400
    assert "eventTypeId must be an integer number" in invalid.json["error"]["message"]
    assert "slotStart must be a valid ISO 8601 date string" in invalid.json["error"]["message"]
    missing = await api.call("PATCH", "/v2/slots/reservations/nope", BODY, version=SLOTS_VERSION)
    assert (missing.status, missing.json["error"]["message"]) == (404, "Slot with uid=nope not found")


@pytest.mark.parametrize(
    ("method", "path", "version"),
    [
        ("POST", "/v2/slots/reservations", "2024-08-13"),
        ("POST", "/v2/slots/reservations", None),
        ("GET", "/v2/slots/reservations/x", None),
        ("POST", "/v2/slots/reserve", SLOTS_VERSION),
        ("DELETE", "/v2/slots/selected-slot", SLOTS_VERSION),
    ],
)
async def test_reservation_routes_follow_cal_api_version(api: CalcomApi, method: str, path: str, version: str | None) -> None:
    reply = await api.call(method, path, {}, version=version)
    assert reply.status == 404
    assert reply.json["error"]["message"] == f"Cannot {method} {path}"


async def test_legacy_reserve_sets_the_uid_cookie_and_holds_the_slot(api: CalcomApi, fake: FakeServer) -> None:
    body = {"eventTypeId": 2001, "slotUtcStartDate": SLOT, "slotUtcEndDate": "2025-10-07T08:00:00.000Z"}
    reply = await api.post("/v2/slots/reserve", body, version=None)
    assert reply.status == 201
    uid = reply.data
    assert reply.headers["Set-Cookie"].startswith(f"uid={uid}")
    assert reservations(fake)[0]["api"] == "2024-04-15"
    assert (await book(api, "other@example.com")).status == 409
    renewed = await api.post("/v2/slots/reserve", body, version=None, headers={"Cookie": f"uid={uid}"})
    assert renewed.data == uid  # the cookie's reservation is upserted, not a second one
    assert len(reservations(fake)) == 1
    mine = await api.post(
        "/v2/bookings",
        {"start": SLOT, "eventTypeId": 2001, "attendee": {"name": "H", "email": "h@example.com", "timeZone": "UTC"}},
        headers={"Cookie": f"uid={uid}"},
    )
    assert mine.status == 201  # the cookie names the caller's own reservation


async def test_delete_selected_slot_releases_by_query_or_cookie(api: CalcomApi, fake: FakeServer) -> None:
    body = {"eventTypeId": 2001, "slotUtcStartDate": SLOT, "slotUtcEndDate": "2025-10-07T08:00:00.000Z"}
    uid = (await api.post("/v2/slots/reserve", body, version=None)).data
    assert (await api.call("DELETE", "/v2/slots/selected-slot", version=None, params={"uid": uid})).status == 200
    assert reservations(fake) == []
    uid = (await api.post("/v2/slots/reserve", body, version=None)).data
    reply = await api.call("DELETE", "/v2/slots/selected-slot", version=None, headers={"Cookie": f"uid={uid}"})
    assert reply.json == {"status": "success"}
    assert reservations(fake) == []


@pytest.mark.parametrize("scope", ["all", "bookings", "restore"])
async def test_resets_clear_reservations(api: CalcomApi, fake: FakeServer, scope: str) -> None:
    await reserve(api)
    control = AsyncFakeControl(fake.url, session=api.session)
    await control.reset(scope)
    assert reservations(fake) == []
    if scope == "bookings":
        assert SLOT in await free_starts(api)


async def test_a_reschedule_onto_a_reserved_slot_is_refused_unless_it_is_the_callers(api: CalcomApi) -> None:
    old = await api.book(TUESDAY_1000, email="mover@example.com")
    uid = (await reserve(api))["reservationUid"]
    path = f"/v2/bookings/{old.data['uid']}/reschedule"
    assert (await api.post(path, {"start": SLOT})).status == 409
    moved = await api.post(path, {"start": SLOT, "reservedSlotUid": uid})
    assert moved.status == 201, moved.raw
