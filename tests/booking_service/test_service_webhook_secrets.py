"""Per-tenant webhook secrets: a tenant with its own secret accepts deliveries only under it; the
shared secret still serves tenants without one; no tenant's secret opens another tenant."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from service_stack import BERLIN_KEY, HAMBURG_KEY, S_ISO, WEBHOOK_SECRET, StackFactory

from booking_service.tenants import TenantConfigError, demo_tenants, validate_tenants

HAMBURG_SECRET = "whsec_hamburg_own"


def tenants_with_hamburg_secret() -> dict[str, object]:
    doc = demo_tenants()
    doc["companies"][1]["webhook_secret"] = HAMBURG_SECRET
    return doc


def created(uid: str, event_type_id: int) -> bytes:
    payload = {
        "uid": uid,
        "startTime": S_ISO,
        "endTime": "2026-01-07T13:30:00Z",
        "eventTypeId": event_type_id,
        "status": "ACCEPTED",
        "attendees": [{"name": "Olga Outside", "email": "olga@example.org"}],
    }
    return json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": payload}).encode()


def signature(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Cal-Signature-256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


@pytest.mark.parametrize(
    ("event_type_id", "secret", "status"),
    [
        (2006, HAMBURG_SECRET, 200),  # Hamburg's own secret, Hamburg's event type
        (2006, WEBHOOK_SECRET, 401),  # the shared secret no longer speaks for Hamburg
        (2001, WEBHOOK_SECRET, 200),  # Berlin has no secret of its own: the shared one
        (2001, HAMBURG_SECRET, 401),  # Hamburg's secret does not open Berlin
    ],
    ids=["own-secret", "shared-for-own", "shared", "other-tenants-secret"],
)
async def test_a_delivery_is_accepted_only_under_its_tenants_secret(
    make_stack: StackFactory, event_type_id: int, secret: str, status: int
) -> None:
    async with make_stack(webhooks=False, tenants=tenants_with_hamburg_secret()) as stack:
        body = created("outside-1", event_type_id)
        got, answer = await stack.post("/api/webhooks/calcom", raw=body, headers=signature(body, secret))
        assert got == status, answer
        listed = {
            key: (await stack.get("/api/appointments", key))[1]["appointments"]
            for key in (BERLIN_KEY, HAMBURG_KEY)
        }
        owner = HAMBURG_KEY if event_type_id == 2006 else BERLIN_KEY
        other = BERLIN_KEY if owner == HAMBURG_KEY else HAMBURG_KEY
        assert [a["booking_uid"] for a in listed[owner]] == (["outside-1"] if status == 200 else [])
        assert listed[other] == []


def test_a_short_tenant_secret_is_a_configuration_error() -> None:
    doc = demo_tenants()
    doc["companies"][0]["webhook_secret"] = "short"
    with pytest.raises(TenantConfigError, match="webhook_secret"):
        validate_tenants(doc)
