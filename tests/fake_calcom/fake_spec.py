"""Cal.com's OpenAPI document as the fake's tests use it — the one place its quirks are handled.

`data/openapi-v2-subset.json` is cut from API-FACTS §7's saved copy (Nest's generated Swagger
output at upstream 5c7f1aeb). That output has quirks no real answer can satisfy; each one is
patched below, explicitly, with the reason, and nothing else is relaxed. Routes the document
leaves out (Cal.com excludes them from its docs: `/v2/slots/reserve`, `/v2/slots/selected-slot`,
`/v2/provider/…`) get schemas written here from Cal.com's own DTOs (`EXTRA_RESPONSES`).
Error answers are not in the document at all; `ERROR_SCHEMAS` are the envelope of Cal.com's
HttpExceptionFilter and Nest's bare body (API-FACTS §3.1).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema

from fake_calcom.backend.webhooks import TRIGGERS

DOCUMENT: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "openapi-v2-subset.json").read_text(encoding="utf-8")
)
HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"


def nullable_to_json_schema(node: Any) -> Any:
    """Quirk 1: OpenAPI 3.0's `nullable: true` is not JSON Schema; spell it `anyOf [null, …]`."""
    if isinstance(node, dict):
        node = {k: nullable_to_json_schema(v) for k, v in node.items()}
        if node.pop("nullable", False):
            return {"anyOf": [{"type": "null"}, node]}
        return node
    if isinstance(node, list):
        return [nullable_to_json_schema(v) for v in node]
    return node


def patched_schemas() -> dict[str, Any]:
    """The document's component schemas with its quirks fixed (OpenAPI spelling, not yet JSON
    Schema: the fuzzer also generates request bodies from these)."""
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
    # those unions as `anyOf` with a boolean `isDefault`. The team event type has the same.
    for output in ("EventTypeOutput_2024_06_14", "TeamEventTypeOutput_2024_06_14"):
        properties = schemas[output]["properties"]
        for key in ("bookingFields", "locations"):
            items = properties[key]["items"]
            items["anyOf"] = items.pop("oneOf")
    for name, schema in schemas.items():
        if name.endswith("FieldOutput_2024_06_14") and "isDefault" in schema.get("properties", {}):
            schema["properties"]["isDefault"] = {"type": "boolean"}
    # Quirk 6: GET /v2/slots/reservations/{uid}'s `GetReservedSlotOutput_2024_09_04` has a `data`
    # that is itself (the response class and the data class share a name in Cal.com's code, so
    # Swagger kept one): a recursive schema no answer can meet. Cal.com's data is the
    # reservation (`getReservationSlot`: the created reservation's fields without
    # reservationDuration), or null for an unknown uid.
    reservation = copy.deepcopy(schemas["ReserveSlotOutput_2024_09_04"])
    reservation["required"] = [f for f in reservation["required"] if f != "reservationDuration"]
    schemas["ReservedSlot_2024_09_04"] = reservation
    schemas["GetReservedSlotOutput_2024_09_04"]["properties"]["data"] = {
        "nullable": True,
        "allOf": [{"$ref": "#/components/schemas/ReservedSlot_2024_09_04"}],
    }
    # Quirk 7: schedule times carry `pattern: "TIME_FORMAT_HH_MM"`, the *name* of Cal.com's
    # constant rather than its regex, and `availability.days` repeats the weekday enum on the
    # array itself (an array is never equal to a string). Use the HH:MM regex; keep the enum on
    # the items only.
    for name in ("ScheduleAvailabilityInput_2024_06_11", "ScheduleOverrideInput_2024_06_11"):
        for key in ("startTime", "endTime"):
            schemas[name]["properties"][key]["pattern"] = HH_MM
    schemas["ScheduleAvailabilityInput_2024_06_11"]["properties"]["days"].pop("enum", None)
    return schemas


SCHEMAS = patched_schemas()
COMPONENTS = nullable_to_json_schema(SCHEMAS)

_SUCCESS_ENVELOPE = {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["success"]}}}

# Routes Cal.com serves but leaves out of its document, from the DTOs named.
EXTRA_RESPONSES: dict[tuple[str, str, int], dict[str, Any]] = {
    # SlotsController_2024_04_15.reserveSlot: `ApiResponse<string>`, the reservation uid.
    ("POST", "/v2/slots/reserve", 201): {
        "type": "object",
        "required": ["status", "data"],
        "properties": {"status": {"enum": ["success"]}, "data": {"type": "string", "minLength": 1}},
    },
    # SlotsController_2024_04_15.deleteSelectedSlot: `ApiResponse` without data.
    ("DELETE", "/v2/slots/selected-slot", 200): _SUCCESS_ENVELOPE,
    # CalProviderController.verifyClientId: ProviderVerifyClientOutput.
    ("GET", "/v2/provider/{clientId}", 200): {
        "type": "object",
        "required": ["status", "data"],
        "properties": {
            "status": {"enum": ["success"]},
            "data": {
                "type": "object",
                "required": ["clientId", "organizationId", "name"],
                "properties": {
                    "clientId": {"type": "string"},
                    "organizationId": {"type": "number"},
                    "name": {"type": "string"},
                },
            },
        },
    },
    # CalProviderController.verifyAccessToken: ProviderVerifyAccessTokenOutput ({status}).
    ("GET", "/v2/provider/{clientId}/access-token", 200): _SUCCESS_ENVELOPE,
}

# HttpExceptionFilter's envelope, and Nest's bare `{statusCode, message}` (API-FACTS §3.1).
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "timestamp", "path", "error"],
    "properties": {
        "status": {"enum": ["error"]},
        "timestamp": {"type": "string"},
        "path": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string", "minLength": 1}, "message": {"type": "string"}},
        },
    },
}
BARE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["statusCode", "message"],
    "properties": {"statusCode": {"type": "integer"}, "message": {"type": "string"}},
}
ERROR_SCHEMA: dict[str, Any] = {"anyOf": [ENVELOPE_SCHEMA, BARE_SCHEMA]}


def documented(method: str, path: str) -> bool:
    return method.lower() in DOCUMENT["paths"].get(path, {})


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    """The schema Cal.com documents for this answer (or writes in its DTOs, EXTRA_RESPONSES)."""
    extra = EXTRA_RESPONSES.get((method.upper(), path, status))
    if extra is not None:
        return copy.deepcopy(extra)
    operation = DOCUMENT["paths"][path][method.lower()]
    schema = copy.deepcopy(operation["responses"][str(status)]["content"]["application/json"]["schema"])
    if (method.upper(), path) == ("GET", "/v2/slots") and "oneOf" in schema:
        # Quirk 5b (found by the fuzzer): its two formats are a `oneOf`, but a range with no free
        # slot is `{}` in either format, so Cal.com's real empty answer matches both and fails
        # `oneOf`. Validate them as `anyOf`.
        schema["anyOf"] = schema.pop("oneOf")
    return nullable_to_json_schema(schema)


def has_response(method: str, path: str, status: int) -> bool:
    if (method.upper(), path, status) in EXTRA_RESPONSES:
        return True
    operation = DOCUMENT["paths"].get(path, {}).get(method.lower())
    return operation is not None and str(status) in operation["responses"]


def validate(instance: Any, schema: dict[str, Any]) -> None:
    root = {**schema, "components": {"schemas": COMPONENTS}}
    jsonschema.Draft4Validator(root).validate(instance)


def document_instance(method: str, path: str, document: Any) -> Any:
    """What the documented schema describes for this operation."""
    if (method.upper(), path) == ("GET", "/v2/slots"):
        # Quirk 5: the GET /v2/slots schema describes `data` (a map of dates to slots), not
        # the `{"status","data"}` envelope its own example shows; validate the envelope by hand.
        assert document["status"] == "success"
        return document["data"]
    return document
