"""Cal.com's wire format over real loopback HTTP: every endpoint, auth, versions, validation."""

from __future__ import annotations

import pytest

from fake_calcom import FakeConfig, FakeServer
from fake_calcom.testing import (
    BEN_KEY,
    EVENT_TYPES_VERSION,
    SLOTS_VERSION,
    TUESDAY_0900,
    TUESDAY_0930,
    TUESDAY_1000,
    CalcomApi,
)

LEGACY_BODY = {
    "start": TUESDAY_0900,
    "end": TUESDAY_0930,
    "eventTypeId": 2001,
    "eventTypeSlug": "beratung",
    "user": "anna-becker",
    "responses": {"name": "Hansi Sputer", "email": "termin@praxis-berlin.example", "notes": "", "guests": []},
    "timeZone": "Europe/Berlin",
    "language": "de",
    "metadata": {"call_id": "call_1"},
}


# --------------------------------------------------------------------------- bookings 2024-08-13


async def test_create_answers_201_with_the_booking(api: CalcomApi) -> None:
    reply = await api.book(metadata={"call_id": "call_1", "idempotency_key": "k1"})
    assert reply.status == 201
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    data = reply.data
    assert reply.json["status"] == "success"
    assert list(data)[:6] == ["id", "uid", "title", "description", "hosts", "status"]
    assert data["status"] == "accepted"
    assert data["start"] == TUESDAY_0900
    assert data["end"] == TUESDAY_0930
    assert data["duration"] == 30
    assert data["eventType"] == {"id": 2001, "slug": "beratung"}
    assert data["hosts"][0]["id"] == 101
    assert data["attendees"][0]["name"] == "Hansi Sputer"
    assert data["metadata"] == {"call_id": "call_1", "idempotency_key": "k1"}
    assert data["createdAt"] == "2025-10-06T09:40:00.000Z"
    assert len(data["uid"]) == 22
    got = await api.get(f"/v2/bookings/{data['uid']}")
    assert got.status == 200
    assert got.data == data


async def test_second_create_on_a_busy_slot_is_400_not_409(api: CalcomApi) -> None:
    assert (await api.book()).status == 201
    again = await api.book(name="Hans Schuster", metadata={"call_id": "call_2"})
    assert again.status == 400
    assert again.json["error"]["code"] == "BadRequestException"
    assert again.json["error"]["message"] == "User either already has booking at this time or is not available"


async def test_requires_confirmation_replays_the_pending_booking_with_201(api: CalcomApi, fake: FakeServer) -> None:
    first = await api.book(event_type_id=2003, metadata={"call_id": "call_687"})
    fake.clock.advance(35 * 60)
    second = await api.book(event_type_id=2003, name="Hans Schuster", metadata={"call_id": "call_688"})
    assert first.status == second.status == 201
    assert second.data == first.data  # old id, uid, createdAt, metadata and attendee
    assert second.data["status"] == "pending"


async def test_cancel_with_and_without_a_body(api: CalcomApi) -> None:
    uid = (await api.book()).data["uid"]
    no_reason = await api.post(f"/v2/bookings/{uid}/cancel")  # as the host, without a reason
    assert no_reason.status == 400
    assert no_reason.json["error"]["message"] == "Cancellation reason is required when you are the host"
    anonymous = await api.post(f"/v2/bookings/{uid}/cancel", key=None)  # Content-Length: 0
    assert anonymous.status == 200
    assert anonymous.data["status"] == "cancelled"
    twice = await api.post(f"/v2/bookings/{uid}/cancel", {"cancellationReason": "again"})
    assert twice.status == 400


async def test_cancel_as_host_with_a_reason(api: CalcomApi) -> None:
    uid = (await api.book()).data["uid"]
    reply = await api.post(f"/v2/bookings/{uid}/cancel", {"cancellationReason": "Patient abgesagt"})
    assert reply.status == 200
    assert reply.data["cancellationReason"] == "Patient abgesagt"
    assert reply.data["cancelledByEmail"] == "anna@praxis-berlin.example"


async def test_reschedule_answers_201_with_the_new_booking(api: CalcomApi) -> None:
    old = (await api.book()).data
    reply = await api.post(f"/v2/bookings/{old['uid']}/reschedule", {"start": TUESDAY_1000, "reschedulingReason": "later"})
    assert reply.status == 201
    assert reply.data["uid"] != old["uid"]
    assert reply.data["rescheduledFromUid"] == old["uid"]
    old_now = (await api.get(f"/v2/bookings/{old['uid']}")).data
    assert old_now["status"] == "cancelled"
    assert old_now["rescheduledToUid"] == reply.data["uid"]
    missing = await api.post("/v2/bookings/nope/reschedule", {"start": TUESDAY_1000})
    assert missing.status == 404
    assert missing.json["error"]["message"] == "Booking with uid=nope was not found in the database"


async def test_get_unknown_booking_is_404(api: CalcomApi) -> None:
    reply = await api.get("/v2/bookings/doesnotexist")
    assert reply.status == 404
    assert reply.json["error"]["code"] == "NotFoundException"


async def test_list_filters_and_paginates(api: CalcomApi) -> None:
    for start, email in ((TUESDAY_0900, "a@example.com"), (TUESDAY_0930, "b@example.com"), (TUESDAY_1000, "a@example.com")):
        assert (await api.book(start, email=email)).status == 201
    everything = await api.get("/v2/bookings")
    assert everything.status == 200
    assert len(everything.data) == 3
    assert everything.json["pagination"]["totalItems"] == 3
    mine = await api.get("/v2/bookings", params={"attendeeEmail": "a@example.com", "take": "1", "skip": "1"})
    assert [b["start"] for b in mine.data] == [TUESDAY_1000]
    assert mine.json["pagination"] == {
        "itemsReturned": 1, "totalItems": 2, "itemsPerPage": 1, "remainingItems": 0,
        "currentPage": 2, "totalPages": 2, "hasNextPage": False, "hasPreviousPage": True,
    }
    upcoming = await api.get("/v2/bookings", params={"status": "upcoming", "afterStart": TUESDAY_0930})
    assert len(upcoming.data) == 2
    bens = await api.get("/v2/bookings", key=BEN_KEY)
    assert bens.data == []
    bad = await api.get("/v2/bookings", params={"take": "0", "colour": "red"})
    assert bad.status == 400
    assert "property colour should not exist" in bad.json["error"]["message"]


async def test_list_needs_credentials(api: CalcomApi) -> None:
    none = await api.get("/v2/bookings", key=None)
    assert none.status == 403
    assert none.json["error"]["message"].startswith("PermissionsGuard")
    wrong = await api.get("/v2/bookings", key="cal_live_wrong")
    assert wrong.status == 401
    assert wrong.json["error"]["message"] == "ApiAuthStrategy - api key - Your api key is not valid"
    token = await api.get("/v2/bookings", key="not-a-cal-key")
    assert token.status == 401
    assert token.json["error"]["message"] == "ApiAuthStrategy - Invalid Bearer token"


async def test_create_with_an_invalid_key_is_401_even_though_auth_is_optional(api: CalcomApi) -> None:
    assert (await api.book(key="cal_live_wrong")).status == 401
    assert (await api.book(key=None)).status == 201


# --------------------------------------------------------------------------- 2024-04-15 / 2024-06-14 clients


async def test_legacy_create_body_without_version_answers_the_flat_booking(api: CalcomApi) -> None:
    reply = await api.post("/v2/bookings", LEGACY_BODY, version=None)
    assert reply.status == 201
    data = reply.data
    assert data["startTime"] == TUESDAY_0900
    assert data["status"] == "ACCEPTED"
    assert data["responses"]["name"] == "Hansi Sputer"
    assert data["metadata"] == {"call_id": "call_1"}
    same_with_2024_06_14 = await api.post("/v2/bookings", {**LEGACY_BODY, "start": TUESDAY_1000, "end": "2025-10-07T08:30:00+00:00"}, version="2024-06-14")
    assert same_with_2024_06_14.status == 201
    busy = await api.post("/v2/bookings", LEGACY_BODY, version=None)
    assert busy.status == 400
    assert busy.json["error"]["code"] == "HttpException"
    assert busy.json["error"]["message"] == "no_available_users_found_error"


async def test_legacy_reschedule_by_create_with_reschedule_uid(api: CalcomApi) -> None:
    old = (await api.post("/v2/bookings", LEGACY_BODY, version=None)).data
    moved = await api.post("/v2/bookings", {**LEGACY_BODY, "start": TUESDAY_1000, "end": "2025-10-07T08:30:00Z", "rescheduleUid": old["uid"]}, version=None)
    assert moved.status == 201
    assert moved.data["fromReschedule"] == old["uid"]


async def test_legacy_list_cancel_and_get(api: CalcomApi) -> None:
    uid = (await api.post("/v2/bookings", LEGACY_BODY, version=None)).data["uid"]
    listing = await api.get("/v2/bookings", version=None)
    assert listing.status == 200
    assert [b["uid"] for b in listing.data["bookings"]] == [uid]
    assert listing.data["nextCursor"] is None
    got = await api.get(f"/v2/bookings/{uid}", version=None)
    assert got.data["uid"] == uid
    cancelled = await api.post(f"/v2/bookings/{uid}/cancel", {"cancellationReason": "x"}, version=None)
    assert cancelled.status == 201
    assert cancelled.data == {"bookingId": got.data["id"], "bookingUid": uid, "onlyRemovedAttendee": False}
    by_id = await api.post("/v2/bookings/123/cancel", version=None)
    assert by_id.status == 400
    assert by_id.json["error"]["message"] == "Please provide booking uid instead of booking id."
    assert (await api.post(f"/v2/bookings/{uid}/reschedule", {"start": TUESDAY_1000}, version=None)).status == 404


async def test_an_unknown_version_is_served_by_the_2024_04_15_controller(api: CalcomApi) -> None:
    reply = await api.book(version="2099-01-01")  # a 2024-08-13 body at the legacy controller
    assert reply.status == 400
    assert reply.json["error"]["code"] == "BadRequestException"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"end": TUESDAY_0930}, "end property is wrong, property end should not exist"),
        ({"title": "x"}, "title property is wrong, property title should not exist"),
        ({"start": "next tuesday"}, "start must be a valid ISO 8601 date string"),
        ({"eventTypeId": "2001"}, "eventTypeId must be an integer number"),
        ({"attendee": {"name": "X", "timeZone": "Europe/Berlin"}}, "attendee email or phone property is wrong"),
        ({"attendee": {"name": "X", "email": "x@example.com", "timeZone": "Mars/Base"}}, "timeZone must be a valid IANA time-zone"),
        *(  # not a string: a list or an object was a TypeError (500) in the enum check
            ({"attendee": {"name": "X", "email": "x@example.com", "timeZone": "Europe/Berlin", "language": bad}},
             "language must be one of the following values")
            for bad in (["de"], {"locale": "de"}, 7, None)
        ),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "Metadata must have at most 50 keys"),
        ({"metadata": {"call_id": "x" * 501}}, "Metadata must have at most 50 keys"),
        ({"lengthInMinutes": 30}, "Can't specify 'lengthInMinutes'"),
        ({"eventTypeId": 4242}, "Event type with id 4242 not found."),
    ],
)
async def test_strict_validation_answers_400_with_calcoms_message(api: CalcomApi, change: dict, expected: str) -> None:
    body = {
        "start": TUESDAY_0900,
        "eventTypeId": 2001,
        "attendee": {"name": "Hansi Sputer", "email": "termin@praxis-berlin.example", "timeZone": "Europe/Berlin"},
        **change,
    }
    reply = await api.post("/v2/bookings", body)
    assert reply.status in (400, 404)
    assert expected in reply.json["error"]["message"]


async def test_book_by_slug_and_username_and_with_an_offset_start(api: CalcomApi) -> None:
    body = {
        "start": "2025-10-07T09:00:00+02:00",
        "eventTypeSlug": "beratung",
        "username": "anna-becker",
        "attendee": {"name": "Hansi", "phoneNumber": "+4915112345678", "timeZone": "Europe/Berlin"},
    }
    reply = await api.post("/v2/bookings", body)
    assert reply.status == 201
    assert reply.data["start"] == TUESDAY_0900
    assert reply.data["attendees"][0]["phoneNumber"] == "+4915112345678"


# --------------------------------------------------------------------------- slots


async def test_slots_2024_09_04_in_a_time_zone_and_as_ranges(api: CalcomApi) -> None:
    params = {"eventTypeId": "2001", "start": "2025-10-07", "end": "2025-10-07", "timeZone": "Europe/Berlin"}
    reply = await api.get("/v2/slots", version=SLOTS_VERSION, params=params)
    assert reply.status == 200
    day = reply.data["2025-10-07"]
    assert day[0] == {"start": "2025-10-07T09:00:00.000+02:00"}
    assert len(day) == 16
    await api.book()
    ranged = await api.get("/v2/slots", version=SLOTS_VERSION, params={**params, "format": "range"})
    first = ranged.data["2025-10-07"][0]
    assert first == {"start": "2025-10-07T09:30:00.000+02:00", "end": "2025-10-07T10:00:00.000+02:00"}
    utc = await api.get("/v2/slots", version=SLOTS_VERSION, params={"eventTypeId": "2001", "start": "2025-10-07", "end": "2025-10-07"})
    assert utc.data["2025-10-07"][0] == {"start": TUESDAY_0930}


async def test_slots_need_their_version_and_valid_parameters(api: CalcomApi) -> None:
    params = {"eventTypeId": "2001", "start": "2025-10-07", "end": "2025-10-07"}
    no_version = await api.get("/v2/slots", version=None, params=params)
    assert no_version.status == 404
    assert no_version.json["error"]["message"] == "Cannot GET /v2/slots"
    for bad, message in (
        ({**params, "start": "soon"}, "start must be a valid ISO 8601 date string"),
        ({**params, "timeZone": "Nowhere/City"}, "timeZone must be a valid IANA time-zone"),
        ({**params, "colour": "x"}, "property colour should not exist"),
        ({**params, "start": "2025-10-08", "end": "2025-10-07"}, "Invalid time range given"),
        ({"start": "2025-10-07", "end": "2025-10-07"}, "Either eventTypeId"),
    ):
        reply = await api.get("/v2/slots", version=SLOTS_VERSION, params=bad)
        assert reply.status == 400, bad
        assert message in reply.json["error"]["message"]
    unknown = await api.get("/v2/slots", version=SLOTS_VERSION, params={**params, "eventTypeId": "9"})
    assert unknown.status == 404


async def test_legacy_slots_available(api: CalcomApi) -> None:
    params = {"eventTypeId": "2001", "startTime": "2025-10-07T00:00:00Z", "endTime": "2025-10-07T23:59:59Z", "timeZone": "Europe/Berlin"}
    reply = await api.get("/v2/slots/available", version=None, params=params)
    assert reply.status == 200
    assert reply.data["slots"]["2025-10-07"][0] == {"time": TUESDAY_0900}
    ranged = await api.get("/v2/slots/available", version=None, params={**params, "slotFormat": "range"})
    assert ranged.data["slots"]["2025-10-07"][0] == {"startTime": TUESDAY_0900, "endTime": TUESDAY_0930}
    bad = await api.get("/v2/slots/available", version=None, params={**params, "endTime": "2025-10-06T00:00:00Z"})
    assert bad.status == 400
    assert bad.json["error"]["message"] == "Invalid time range given - check the 'startTime' and 'endTime' query parameters."
    assert (await api.get("/v2/slots/available", version=SLOTS_VERSION, params=params)).status == 404


# --------------------------------------------------------------------------- event types, me, webhooks


async def test_event_types_in_both_shapes(api: CalcomApi) -> None:
    new = await api.get("/v2/event-types", version=EVENT_TYPES_VERSION)
    assert new.status == 200
    assert sorted(et["id"] for et in new.data) == [2001, 2003, 2004, 2005]
    beratung = next(et for et in new.data if et["id"] == 2001)
    assert beratung["lengthInMinutes"] == 30
    assert beratung["slug"] == "beratung"
    legacy = await api.get("/v2/event-types", version=None)
    group = legacy.data["eventTypeGroups"][0]
    assert group["profile"]["slug"] == "anna-becker"
    assert len(group["eventTypes"]) == 4
    one = await api.get("/v2/event-types/2002", version=EVENT_TYPES_VERSION)
    assert one.data["users"] == ["ben-krause"]
    assert (await api.get("/v2/event-types/77", version=EVENT_TYPES_VERSION)).status == 404
    by_user = await api.get("/v2/event-types", version=EVENT_TYPES_VERSION, key=None, params={"username": "clara-wolf"})
    assert sorted(et["id"] for et in by_user.data) == [2005, 2006]


async def test_me(api: CalcomApi) -> None:
    reply = await api.get("/v2/me", version=None)
    assert reply.status == 200
    assert reply.data["id"] == 101
    assert reply.data["timeZone"] == "Europe/Berlin"
    anonymous = await api.get("/v2/me", key=None)
    assert anonymous.status == 401
    assert anonymous.json["error"]["message"].startswith("ApiAuthStrategy - No authentication")


async def test_webhook_subscriptions_crud(api: CalcomApi) -> None:
    body = {"subscriberUrl": "http://127.0.0.1:9/hook", "triggers": ["BOOKING_CREATED"], "active": True, "secret": "s"}
    created = await api.post("/v2/webhooks", body, version=None)
    assert created.status == 201
    hook_id = created.data["id"]
    assert created.data["triggers"] == ["BOOKING_CREATED"]
    assert created.data["userId"] == 101
    assert [h["id"] for h in (await api.get("/v2/webhooks", version=None)).data] == [hook_id]
    patched = await api.call("PATCH", f"/v2/webhooks/{hook_id}", {"active": False}, version=None)
    assert patched.status == 200
    assert patched.data["active"] is False
    assert (await api.get(f"/v2/webhooks/{hook_id}", version=None, key=BEN_KEY)).status == 404
    assert (await api.call("DELETE", f"/v2/webhooks/{hook_id}", version=None)).status == 200
    assert (await api.get(f"/v2/webhooks/{hook_id}", version=None)).status == 404
    bad = await api.post("/v2/webhooks", {**body, "triggers": ["BOOKING_EXPLODED"]}, version=None)
    assert bad.status == 400


# --------------------------------------------------------------------------- rate limiting


@pytest.mark.parametrize("fake_config", [FakeConfig(rate_limit=True, rate_limit_per_minute=3)])
async def test_rate_limit_per_key_with_headers_and_no_retry_after(api: CalcomApi, fake: FakeServer) -> None:
    replies = [await api.get("/v2/me") for _ in range(4)]
    assert [r.status for r in replies] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining-Default"] for r in replies] == ["2", "1", "0", "0"]
    throttled = replies[-1]
    assert throttled.headers["X-RateLimit-Reset-Default"] == "60"
    assert "Retry-After" not in throttled.headers
    assert throttled.json["error"] == {
        "code": "ThrottlerException",
        "message": "Too many requests. Please try again later.",
        "details": {"message": "Too many requests. Please try again later.", "error": "Too Many Requests", "statusCode": 429},
    }
    assert (await api.get("/v2/me", key=BEN_KEY)).status == 200  # another key has its own window
    fake.clock.advance(60)
    assert (await api.get("/v2/me")).status == 200
    assert "X-RateLimit-Limit-Default" in (await api.get("/v2/nope")).headers


# --------------------------------------------------------------------------- bad input never 500


BAD_REQUESTS = [
    ("malformed-json", "POST", "/v2/bookings", b'{"start": ', {"Content-Type": "application/json"}, 400),
    ("not-an-object", "POST", "/v2/bookings", b"[1, 2, 3]", {"Content-Type": "application/json"}, 400),
    ("json-null", "POST", "/v2/bookings", b"null", {"Content-Type": "application/json"}, 400),
    ("no-body", "POST", "/v2/bookings", None, {}, 400),
    ("wrong-types", "POST", "/v2/bookings", b'{"start": 5, "eventTypeId": [], "attendee": "x", "metadata": 3}', {}, 400),
    ("deep-nesting", "POST", "/v2/bookings", b"[" * 100_000 + b"]" * 100_000, {}, 400),
    ("huge-number", "POST", "/v2/bookings", b'{"eventTypeId": 1e999999}', {}, 400),
    ("not-utf8", "POST", "/v2/bookings", b'{"start": "\xff\xfe"}', {}, 400),
    ("too-large", "POST", "/v2/bookings", b'{"x": "' + b"a" * (1 << 20) + b'"}', {}, 413),
    ("unknown-path", "GET", "/v2/nope", None, {}, 404),
    ("unknown-method", "PATCH", "/v2/bookings", None, {}, 404),
    ("root", "GET", "/", None, {}, 404),
    ("bad-version", "GET", "/v2/slots", None, {"cal-api-version": "yesterday"}, 404),
    ("bad-query", "GET", "/v2/bookings?take=abc&skip=-1", None, {}, 400),
    ("bad-cancel-body", "POST", "/v2/bookings/x/cancel", b'"reason"', {}, 400),
    ("bad-reschedule", "POST", "/v2/bookings/x/reschedule", b'{"start": null}', {}, 400),
    ("bad-event-type-id", "GET", "/v2/event-types/abc", None, {"cal-api-version": EVENT_TYPES_VERSION}, 400),
]


@pytest.mark.parametrize(("name", "method", "path", "raw", "headers", "status"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
async def test_bad_input_gets_a_calcom_shaped_error_never_a_500(
    api: CalcomApi, name: str, method: str, path: str, raw: bytes | None, headers: dict, status: int
) -> None:
    reply = await api.call(method, path, raw=raw, headers=headers)
    assert reply.status == status, reply.raw[:300]
    assert reply.json["status"] == "error"
    assert reply.json["error"]["code"].endswith("Exception")
    assert b"Traceback" not in reply.raw
