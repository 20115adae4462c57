"""Every success response the fake serves for a documented path validates against Cal.com's
own OpenAPI document (`data/openapi-v2-subset.json`, cut from API-FACTS §7's saved copy);
routes Cal.com leaves out of it validate against schemas written from its DTOs.

The document's quirks are patched in one place, `fake_spec.py`, each with its reason.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import pytest
from fake_spec import DOCUMENT, EXTRA_RESPONSES, document_instance, response_schema, validate

from fake_calcom import FakeServer
from fake_calcom.backend.seed_data import OAUTH_CLIENT_ID, TEAM_ID
from fake_calcom.testing import (
    BOOKINGS_VERSION,
    EVENT_TYPES_VERSION,
    SLOTS_VERSION,
    TUESDAY_0930,
    TUESDAY_1000,
    CalcomApi,
    Reply,
)

ACCESS_TOKEN = "at_calharness_anna"  # a managed user's access token (seeded, no cal_ prefix)
SCHEDULES_VERSION = "2024-06-11"



async def _booking(api: CalcomApi, start: str = TUESDAY_0930, **kwargs: Any) -> dict[str, Any]:
    reply = await api.book(start, **kwargs)
    assert reply.status == 201
    return reply.data


async def _webhook(api: CalcomApi, **extra: Any) -> dict[str, Any]:
    body = {"subscriberUrl": "http://127.0.0.1:9/hook", "triggers": ["BOOKING_CREATED"], "active": True, **extra}
    reply = await api.post("/v2/webhooks", body, version=None)
    assert reply.status == 201
    return reply.data


# (method, documented path, how to produce the response, expected status)
async def create(api: CalcomApi) -> Reply:
    return await api.book(metadata={"call_id": "c"})


async def create_team(api: CalcomApi) -> Reply:
    return await api.book(event_type_id=2005, name="Team", email="team@example.com")


async def create_with_phone(api: CalcomApi) -> Reply:
    body = {"start": TUESDAY_1000, "eventTypeId": 2001, "attendee": {"name": "P", "phoneNumber": "+4915112345678", "timeZone": "Europe/Berlin"}}
    return await api.post("/v2/bookings", body)


async def list_bookings(api: CalcomApi) -> Reply:
    await _booking(api)
    cancelled = await _booking(api, TUESDAY_1000, email="x@example.com")
    await api.post(f"/v2/bookings/{cancelled['uid']}/cancel", {"cancellationReason": "r"})
    return await api.get("/v2/bookings")


async def get_booking(api: CalcomApi) -> Reply:
    return await api.get(f"/v2/bookings/{(await _booking(api))['uid']}")


async def get_rescheduled_booking(api: CalcomApi) -> Reply:
    old = await _booking(api)
    await api.post(f"/v2/bookings/{old['uid']}/reschedule", {"start": TUESDAY_1000, "rescheduledBy": "anna@praxis-berlin.example"})
    return await api.get(f"/v2/bookings/{old['uid']}")


async def cancel(api: CalcomApi) -> Reply:
    return await api.post(f"/v2/bookings/{(await _booking(api))['uid']}/cancel", {"cancellationReason": "r"})


async def reschedule(api: CalcomApi) -> Reply:
    return await api.post(f"/v2/bookings/{(await _booking(api))['uid']}/reschedule", {"start": TUESDAY_1000, "reschedulingReason": "x"})


def slots(params: dict[str, str]):
    async def call(api: CalcomApi) -> Reply:
        base = {"eventTypeId": "2004", "start": "2025-10-07", "end": "2025-10-09"}
        return await api.get("/v2/slots", version=SLOTS_VERSION, params={**base, **params})

    return call


async def event_types(api: CalcomApi) -> Reply:
    return await api.get("/v2/event-types", version=EVENT_TYPES_VERSION)


async def event_type(api: CalcomApi) -> Reply:
    return await api.get("/v2/event-types/2005", version=EVENT_TYPES_VERSION)


async def me(api: CalcomApi) -> Reply:
    return await api.get("/v2/me", version=None)


async def create_webhook(api: CalcomApi) -> Reply:
    body = {"subscriberUrl": "http://127.0.0.1:9/hook", "triggers": ["BOOKING_CREATED"], "active": True, "secret": "s"}
    return await api.post("/v2/webhooks", body, version=None)


async def list_webhooks(api: CalcomApi) -> Reply:
    await _webhook(api)
    await _webhook(api, payloadTemplate='{"x":"{{title}}"}')
    return await api.get("/v2/webhooks", version=None)


async def get_webhook(api: CalcomApi) -> Reply:
    return await api.get(f"/v2/webhooks/{(await _webhook(api))['id']}", version=None)


async def patch_webhook(api: CalcomApi) -> Reply:
    return await api.call("PATCH", f"/v2/webhooks/{(await _webhook(api))['id']}", {"active": False}, version=None)


async def delete_webhook(api: CalcomApi) -> Reply:
    return await api.call("DELETE", f"/v2/webhooks/{(await _webhook(api))['id']}", version=None)


CASES = [
    ("POST", "/v2/bookings", create, 201),
    ("POST", "/v2/bookings", create_team, 201),
    ("POST", "/v2/bookings", create_with_phone, 201),
    ("GET", "/v2/bookings", list_bookings, 200),
    ("GET", "/v2/bookings/{bookingUid}", get_booking, 200),
    ("GET", "/v2/bookings/{bookingUid}", get_rescheduled_booking, 200),
    ("POST", "/v2/bookings/{bookingUid}/cancel", cancel, 200),
    ("POST", "/v2/bookings/{bookingUid}/reschedule", reschedule, 201),
    ("GET", "/v2/slots", slots({}), 200),
    ("GET", "/v2/slots", slots({"format": "range", "timeZone": "Europe/Berlin"}), 200),
    ("GET", "/v2/event-types", event_types, 200),
    ("GET", "/v2/event-types/{eventTypeId}", event_type, 200),
    ("GET", "/v2/me", me, 200),
    ("POST", "/v2/webhooks", create_webhook, 201),
    ("GET", "/v2/webhooks", list_webhooks, 200),
    ("GET", "/v2/webhooks/{webhookId}", get_webhook, 200),
    ("PATCH", "/v2/webhooks/{webhookId}", patch_webhook, 200),
    ("DELETE", "/v2/webhooks/{webhookId}", delete_webhook, 200),
]
# --------------------------------------------------------------------------- the newer surface

RESERVE_BODY = {"eventTypeId": 2001, "slotStart": TUESDAY_0930}


async def _reservation(api: CalcomApi, **extra: Any) -> dict[str, Any]:
    reply = await api.post("/v2/slots/reservations", {**RESERVE_BODY, **extra}, version=SLOTS_VERSION)
    assert reply.status == 201, reply.raw[:300]
    return reply.data


async def reserve(api: CalcomApi) -> Reply:
    return await api.post("/v2/slots/reservations", RESERVE_BODY, version=SLOTS_VERSION)


async def reserve_anonymous(api: CalcomApi) -> Reply:
    return await api.post("/v2/slots/reservations", RESERVE_BODY, version=SLOTS_VERSION, key=None)


async def reserve_longer(api: CalcomApi) -> Reply:
    body = {**RESERVE_BODY, "reservationDuration": 15}
    return await api.post("/v2/slots/reservations", body, version=SLOTS_VERSION, key=ACCESS_TOKEN)


async def get_reservation(api: CalcomApi) -> Reply:
    uid = (await _reservation(api))["reservationUid"]
    return await api.get(f"/v2/slots/reservations/{uid}", version=SLOTS_VERSION)


async def get_unknown_reservation(api: CalcomApi) -> Reply:
    return await api.get("/v2/slots/reservations/8c1f7a4e-0000-4000-8000-000000000000", version=SLOTS_VERSION)


async def patch_reservation(api: CalcomApi) -> Reply:
    uid = (await _reservation(api))["reservationUid"]
    body = {"eventTypeId": 2001, "slotStart": TUESDAY_1000}
    return await api.call("PATCH", f"/v2/slots/reservations/{uid}", body, version=SLOTS_VERSION)


async def delete_reservation(api: CalcomApi) -> Reply:
    uid = (await _reservation(api))["reservationUid"]
    return await api.call("DELETE", f"/v2/slots/reservations/{uid}", version=SLOTS_VERSION)


async def reserve_legacy(api: CalcomApi) -> Reply:
    body = {"eventTypeId": 2001, "slotUtcStartDate": TUESDAY_0930, "slotUtcEndDate": "2025-10-07T08:00:00.000Z"}
    return await api.post("/v2/slots/reserve", body, version=None)


async def delete_selected_slot(api: CalcomApi) -> Reply:
    uid = (await reserve_legacy(api)).data
    return await api.call("DELETE", "/v2/slots/selected-slot", version=None, params={"uid": uid})


async def _pending(api: CalcomApi) -> str:
    reply = await api.book(TUESDAY_0930, event_type_id=2003)
    assert reply.status == 201
    assert reply.data["status"] == "pending"
    return reply.data["uid"]


async def confirm(api: CalcomApi) -> Reply:
    return await api.post(f"/v2/bookings/{await _pending(api)}/confirm")


async def decline(api: CalcomApi) -> Reply:
    return await api.post(f"/v2/bookings/{await _pending(api)}/decline", {"reason": "Host has to take another call"})


async def decline_without_body(api: CalcomApi) -> Reply:
    return await api.post(f"/v2/bookings/{await _pending(api)}/decline")


async def patch_me(api: CalcomApi) -> Reply:
    body = {"timeZone": "Europe/Vienna", "name": "Anna B.", "weekStart": "Sunday", "timeFormat": 12}
    return await api.call("PATCH", "/v2/me", body, version=None)


async def me_with_access_token(api: CalcomApi) -> Reply:
    return await api.get("/v2/me", version=None, key=ACCESS_TOKEN)


async def schedules(api: CalcomApi) -> Reply:
    return await api.get("/v2/schedules", version=SCHEDULES_VERSION)


async def default_schedule(api: CalcomApi) -> Reply:
    return await api.get("/v2/schedules/default", version=SCHEDULES_VERSION, key=ACCESS_TOKEN)


async def team_event_types(api: CalcomApi) -> Reply:
    return await api.get(f"/v2/teams/{TEAM_ID}/event-types", version=None, key=None)


async def team_event_type_by_slug(api: CalcomApi) -> Reply:
    return await api.get(f"/v2/teams/{TEAM_ID}/event-types", version=None, params={"eventSlug": "teamtermin", "hostsLimit": "1"})


async def provider(api: CalcomApi) -> Reply:
    return await api.get(f"/v2/provider/{OAUTH_CLIENT_ID}", version=None, key=None)


async def provider_access_token(api: CalcomApi) -> Reply:
    return await api.get(f"/v2/provider/{OAUTH_CLIENT_ID}/access-token", version=None, key=ACCESS_TOKEN)


NEW_CASES = [
    ("POST", "/v2/slots/reservations", reserve, 201),
    ("POST", "/v2/slots/reservations", reserve_anonymous, 201),
    ("POST", "/v2/slots/reservations", reserve_longer, 201),
    ("GET", "/v2/slots/reservations/{uid}", get_reservation, 200),
    ("GET", "/v2/slots/reservations/{uid}", get_unknown_reservation, 200),
    ("PATCH", "/v2/slots/reservations/{uid}", patch_reservation, 200),
    ("DELETE", "/v2/slots/reservations/{uid}", delete_reservation, 200),
    ("POST", "/v2/slots/reserve", reserve_legacy, 201),
    ("DELETE", "/v2/slots/selected-slot", delete_selected_slot, 200),
    ("POST", "/v2/bookings/{bookingUid}/confirm", confirm, 200),
    ("POST", "/v2/bookings/{bookingUid}/decline", decline, 200),
    ("POST", "/v2/bookings/{bookingUid}/decline", decline_without_body, 200),
    ("PATCH", "/v2/me", patch_me, 200),
    ("GET", "/v2/me", me_with_access_token, 200),
    ("GET", "/v2/schedules", schedules, 200),
    ("GET", "/v2/schedules/default", default_schedule, 200),
    ("GET", "/v2/teams/{teamId}/event-types", team_event_types, 200),
    ("GET", "/v2/teams/{teamId}/event-types", team_event_type_by_slug, 200),
    ("GET", "/v2/provider/{clientId}", provider, 200),
    ("GET", "/v2/provider/{clientId}/access-token", provider_access_token, 200),
]
CASES += NEW_CASES
assert BOOKINGS_VERSION == "2024-08-13"  # the cases send the documented versions


@pytest.mark.parametrize(("method", "path", "produce", "status"), CASES, ids=[f"{c[0]} {c[1]} {c[2].__name__}" for c in CASES])
async def test_response_validates_against_the_document(api: CalcomApi, method: str, path: str, produce, status: int) -> None:
    reply = await produce(api)
    assert reply.status == status, reply.raw[:300]
    validate(document_instance(method, path, reply.json), response_schema(method, path, status))


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_documented_operation_the_fake_serves_has_a_case(fake: FakeServer) -> None:
    served = {
        (route.method, _template(route.resource.canonical))
        for route in fake.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/v2/")
    }
    documented = {
        (method.upper(), _template(path))
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
    }
    extra = {(method, _template(path)) for method, path, _ in EXTRA_RESPONSES}
    covered = {(method, _template(path)) for method, path, _, _ in CASES}
    assert (served & documented) | extra <= covered
    assert extra <= served  # the undocumented routes Cal.com's clients call are served
    assert len(served & documented) == 24


async def test_the_validator_is_not_vacuous(api: CalcomApi) -> None:
    reply = await create(api)
    schema = response_schema("POST", "/v2/bookings", 201)
    broken = copy.deepcopy(reply.json)
    del broken["data"]["uid"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken, schema)
    wrong_type = copy.deepcopy(reply.json)
    wrong_type["data"]["attendees"][0]["phoneNumber"] = None
    with pytest.raises(jsonschema.ValidationError):
        validate(wrong_type, schema)
