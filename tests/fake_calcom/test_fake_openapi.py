"""Every success response the fake serves for a documented path validates against Cal.com's
own OpenAPI document (`data/openapi-v2-subset.json`, cut from API-FACTS §7's saved copy).

The document is Nest's generated Swagger output and has quirks a real answer cannot satisfy.
Each one is patched here, explicitly, with the reason; nothing else is relaxed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fake_calcom import FakeServer
from fake_calcom.backend.webhooks import TRIGGERS
from fake_calcom.testing import (
    BOOKINGS_VERSION,
    EVENT_TYPES_VERSION,
    SLOTS_VERSION,
    TUESDAY_0930,
    TUESDAY_1000,
    CalcomApi,
    Reply,
)

DOCUMENT = json.loads((Path(__file__).parent / "data" / "openapi-v2-subset.json").read_text(encoding="utf-8"))


def _nullable_to_json_schema(node: Any) -> Any:
    """Quirk 1: OpenAPI 3.0's `nullable: true` is not JSON Schema; spell it `anyOf [null, …]`."""
    if isinstance(node, dict):
        node = {k: _nullable_to_json_schema(v) for k, v in node.items()}
        if node.pop("nullable", False):
            return {"anyOf": [{"type": "null"}, node]}
        return node
    if isinstance(node, list):
        return [_nullable_to_json_schema(v) for v in node]
    return node


def patched_components() -> dict[str, Any]:
    schemas = copy.deepcopy(DOCUMENT["components"]["schemas"])
    # Quirk 2: webhook `triggers` items are typed `object`, but they are trigger names: the
    # Prisma column is an enum array and the document's own CreateWebhookInputDto example
    # lists them as strings ("BOOKING_CREATED", …).
    schemas["UserWebhookOutputDto"]["properties"]["triggers"]["items"] = {"type": "string", "enum": list(TRIGGERS)}
    # Quirk 3: `payloadTemplate` is required and typed string, but the column is optional
    # (`String?`) and the DTO exposes it unchanged, so a webhook without a template has null.
    schemas["UserWebhookOutputDto"]["properties"]["payloadTemplate"]["nullable"] = True
    # Quirk 4: event-type `bookingFields` and `locations` are `oneOf` unions of output DTOs
    # that overlap (e.g. OutputOrganizersDefaultAppLocation only requires `type`, every field
    # type enum lists all types), so any real item matches several alternatives; and
    # `isDefault` is typed `object` although its example (and Cal.com) sends `true`. Validate
    # those unions as `anyOf` with a boolean `isDefault`.
    event_type = schemas["EventTypeOutput_2024_06_14"]["properties"]
    for key in ("bookingFields", "locations"):
        items = event_type[key]["items"]
        items["anyOf"] = items.pop("oneOf")
    for name, schema in schemas.items():
        if name.endswith("FieldOutput_2024_06_14") and "isDefault" in schema.get("properties", {}):
            schema["properties"]["isDefault"] = {"type": "boolean"}
    return _nullable_to_json_schema(schemas)


COMPONENTS = patched_components()


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    operation = DOCUMENT["paths"][path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return _nullable_to_json_schema(copy.deepcopy(schema))


def validate(instance: Any, schema: dict[str, Any]) -> None:
    root = {**schema, "components": {"schemas": COMPONENTS}}
    jsonschema.Draft4Validator(root).validate(instance)


def document_instance(method: str, path: str, reply: Reply) -> Any:
    """What the documented schema describes for this operation."""
    if (method, path) == ("GET", "/v2/slots"):
        # Quirk 5: the GET /v2/slots schema describes `data` (a map of dates to slots), not
        # the `{"status","data"}` envelope its own example shows; validate the envelope by hand.
        assert reply.json["status"] == "success"
        return reply.json["data"]
    return reply.json


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
assert BOOKINGS_VERSION == "2024-08-13"  # the cases send the documented versions


@pytest.mark.parametrize(("method", "path", "produce", "status"), CASES, ids=[f"{c[0]} {c[1]} {c[2].__name__}" for c in CASES])
async def test_response_validates_against_the_document(api: CalcomApi, method: str, path: str, produce, status: int) -> None:
    reply = await produce(api)
    assert reply.status == status, reply.raw[:300]
    validate(document_instance(method, path, reply), response_schema(method, path, status))


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
    covered = {(method, _template(path)) for method, path, _, _ in CASES}
    assert served & documented <= covered
    assert len(served & documented) == 14


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
