"""Confirm/decline, PATCH /v2/me, /v2/provider, managed-user access tokens, schedules, team event
types, and wrong methods on real paths — each answering as Cal.com does."""

from __future__ import annotations

import pytest

from fake_calcom import FakeServer
from fake_calcom.backend.seed_data import OAUTH_CLIENT_ID, TEAM_ID
from fake_calcom.client import AsyncFakeControl
from fake_calcom.testing import BEN_KEY, TUESDAY_0930, CalcomApi, Reply

ACCESS_TOKEN = "at_calharness_anna"


async def pending(api: CalcomApi, email: str = "neu@example.com") -> str:
    reply = await api.book(TUESDAY_0930, event_type_id=2003, email=email)  # Erstgespräch
    assert reply.status == 201
    assert reply.data["status"] == "pending"
    return reply.data["uid"]


def truth_of(fake: FakeServer, uid: str) -> dict:
    return next(b for b in fake.backend.ground_truth()["bookings"] if b["uid"] == uid)


async def test_confirm_accepts_a_pending_booking_once(api: CalcomApi, fake: FakeServer) -> None:
    uid = await pending(api)
    confirmed = await api.post(f"/v2/bookings/{uid}/confirm")
    assert confirmed.status == 200, confirmed.raw
    assert confirmed.data["status"] == "accepted"
    assert truth_of(fake, uid)["status"] == "accepted"
    again = await api.post(f"/v2/bookings/{uid}/confirm")
    assert (again.status, again.json["error"]["message"]) == (400, "Booking already confirmed")
    declined = await api.post(f"/v2/bookings/{uid}/decline")
    assert (declined.status, declined.json["error"]["message"]) == (400, "Booking already confirmed")


async def test_decline_rejects_and_frees_the_slot(api: CalcomApi, fake: FakeServer) -> None:
    uid = await pending(api)
    declined = await api.post(f"/v2/bookings/{uid}/decline", {"reason": "Host has to take another call"})
    assert declined.status == 200
    assert declined.data["status"] == "rejected"
    assert truth_of(fake, uid)["rejectionReason"] == "Host has to take another call"
    assert (await api.book(TUESDAY_0930, event_type_id=2001, email="next@example.com")).status == 201


async def test_confirm_and_decline_refusals(api: CalcomApi) -> None:
    uid = await pending(api)
    other_host = await api.post(f"/v2/bookings/{uid}/confirm", key=BEN_KEY)
    assert (other_host.status, other_host.json["error"]["message"]) == (401, "User is not authorized to confirm this booking")
    anonymous = await api.post(f"/v2/bookings/{uid}/confirm", key=None)
    assert anonymous.status == 403  # PermissionsGuard: no credentials at all
    unknown = await api.post("/v2/bookings/nope/confirm")
    assert (unknown.status, unknown.json["error"]["message"]) == (404, "Booking with uid=nope was not found in the database")
    legacy = await api.post(f"/v2/bookings/{uid}/confirm", version=None)
    assert legacy.status == 404  # only the 2024-08-13 controller has the route
    bad = await api.post(f"/v2/bookings/{uid}/decline", {"reason": 5})
    assert bad.status == 400


async def test_confirming_a_cancelled_booking_revives_it_unless_its_slot_was_taken(api: CalcomApi, fake: FakeServer) -> None:
    uid = await pending(api)
    assert (await api.post(f"/v2/bookings/{uid}/cancel", {"cancellationReason": "x"})).status == 200
    assert (await api.post(f"/v2/bookings/{uid}/confirm")).data["status"] == "accepted"  # Cal.com checks only "accepted"
    assert (await api.post(f"/v2/bookings/{uid}/cancel", {"cancellationReason": "x"})).status == 200
    await pending(api, "zwei@example.com")  # the freed slot is booked by someone else
    conflict = await api.post(f"/v2/bookings/{uid}/confirm")
    assert conflict.status == 409
    assert conflict.json["error"]["code"] == "CONFLICT"
    assert truth_of(fake, uid)["status"] == "cancelled"


async def test_patch_me_changes_what_get_me_answers_until_a_reset(api: CalcomApi, fake: FakeServer) -> None:
    patched = await api.call("PATCH", "/v2/me", {"timeZone": "Europe/Vienna", "unknownField": 1}, version=None)
    assert patched.status == 200
    assert patched.data["timeZone"] == "Europe/Vienna"
    assert (await api.get("/v2/me", version=None)).data["timeZone"] == "Europe/Vienna"
    assert fake.backend.ground_truth()["profileUpdates"] == {"101": {"timeZone": "Europe/Vienna"}}
    bad = await api.call("PATCH", "/v2/me", {"timeZone": "Mars/Olympus", "timeFormat": 13}, version=None)
    assert bad.status == 400
    assert "timeZone must be a valid IANA time-zone" in bad.json["error"]["message"]
    assert (await api.call("PATCH", "/v2/me", {}, version=None, key=None)).status == 401
    await AsyncFakeControl(fake.url, session=api.session).reset("restore")
    assert (await api.get("/v2/me", version=None)).data["timeZone"] == "Europe/Berlin"


async def test_managed_user_access_tokens_are_accepted_as_bearer(api: CalcomApi) -> None:
    me = await api.get("/v2/me", version=None, key=ACCESS_TOKEN)
    assert (me.status, me.data["id"]) == (200, 101)
    assert (await api.book(key=ACCESS_TOKEN)).status == 201
    assert (await api.get("/v2/bookings", key=ACCESS_TOKEN)).status == 200
    unknown = await api.get("/v2/me", version=None, key="not-a-real-token")
    assert (unknown.status, unknown.json["error"]["message"]) == (401, "ApiAuthStrategy - Invalid Bearer token")


async def test_provider_endpoints(api: CalcomApi) -> None:
    found = await api.get(f"/v2/provider/{OAUTH_CLIENT_ID}", version=None, key=None)
    assert found.data == {"clientId": OAUTH_CLIENT_ID, "organizationId": 601, "name": "calharness platform"}
    unknown = await api.get("/v2/provider/nope", version="2024-08-13", key=None)
    assert (unknown.status, unknown.json["error"]["message"]) == (401, "Unauthorized")
    path = f"/v2/provider/{OAUTH_CLIENT_ID}/access-token"
    assert (await api.get(path, version=None, key=ACCESS_TOKEN)).json == {"status": "success"}
    assert (await api.get(path, version=None, key=None)).status == 401
    secret = {"x-cal-secret-key": "calharness-oauth-client-secret"}
    assert (await api.get(path, version=None, key=None, headers=secret)).status == 200
    wrong = {"x-cal-secret-key": "wrong"}
    assert (await api.get(path, version=None, key=None, headers=wrong)).status == 401


async def test_schedules_follow_cal_api_version(api: CalcomApi) -> None:
    new = await api.get("/v2/schedules", version="2024-06-11")
    assert new.data[0]["availability"] == [
        {"days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], "startTime": "09:00", "endTime": "17:00"}
    ]
    old = await api.get("/v2/schedules", version=None)
    assert old.data[0]["workingHours"] == [{"days": [1, 2, 3, 4, 5], "startTime": 540, "endTime": 1020, "userId": 101}]
    default = await api.get("/v2/schedules/default", version="2024-06-11", key=ACCESS_TOKEN)
    assert default.data["id"] == (await api.get("/v2/me", version=None)).data["defaultScheduleId"]
    assert (await api.get("/v2/schedules", version="2024-06-11", key=None)).status == 401


async def test_team_event_types(api: CalcomApi) -> None:
    listed = await api.get(f"/v2/teams/{TEAM_ID}/event-types", version=None, key=None)
    assert [(et["id"], et["schedulingType"]) for et in listed.data] == [(2004, "roundRobin"), (2005, "collective")]
    assert listed.data[0]["hosts"][1] == {"userId": 102, "name": "Ben Krause", "mandatory": False, "priority": "medium", "avatarUrl": None}
    one = await api.get(f"/v2/teams/{TEAM_ID}/event-types", params={"eventSlug": "teamtermin", "hostsLimit": "1"})
    assert [len(et["hosts"]) for et in one.data] == [1]
    assert (await api.get("/v2/teams/999/event-types")).data == []
    bad = await api.get("/v2/teams/abc/event-types")
    assert (bad.status, bad.json["error"]["message"]) == (400, "Validation failed (numeric string is expected)")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/v2/bookings/abc/reschedule"),
        ("DELETE", "/v2/bookings/abc/cancel"),
        ("GET", "/v2/bookings/abc/confirm"),
        ("PUT", "/v2/slots/reservations/abc"),
        ("DELETE", "/v2/me"),
        ("POST", "/v2/provider/x"),
    ],
)
async def test_wrong_methods_on_real_paths_are_nests_404(api: CalcomApi, method: str, path: str) -> None:
    reply: Reply = await api.call(method, path, {})
    assert reply.status == 404
    assert reply.json["error"] == {
        "code": "NotFoundException",
        "message": f"Cannot {method} {path}",
        "details": {"message": f"Cannot {method} {path}", "error": "Not Found", "statusCode": 404},
    }
