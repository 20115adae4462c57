"""The Cal.com webhook receiver with real deliveries from the fake (signed, duplicated, reordered)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa
from service_stack import S_ISO, WEBHOOK_SECRET, Stack, StackFactory

from booking_service import Defenses
from booking_service.models import Customer, ProcessedWebhook


async def outcomes(stack: Stack) -> list[str]:
    async with stack.ctx.sessions() as session:
        rows = await session.execute(
            sa.select(ProcessedWebhook.outcome).order_by(ProcessedWebhook.id)
        )
        return list(rows.scalars())


def signed(body: bytes) -> dict[str, str]:
    return {
        "X-Cal-Signature-256": hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    }


async def test_an_outside_booking_is_imported(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        outside = await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        await stack.flush()
        [appointment] = await stack.appointments()
        assert appointment.calcom_booking_uid == outside["uid"]
        assert (
            appointment.source,
            appointment.call_id,
            appointment.status,
            appointment.host_id,
        ) == ("webhook", None, "scheduled", 101)
        async with stack.ctx.sessions() as session:
            customer = await session.get(Customer, appointment.customer_id)
        assert customer is not None
        assert (customer.name, customer.email) == ("Outside Booker", "outside@example.com")
        assert await outcomes(stack) == ["imported"]
        [delivery] = (await stack.control.state())["webhook_deliveries"]
        assert delivery["http_status"] == 200


async def test_the_voice_flow_owns_its_own_booking(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        await stack.flush()
        assert [a.calcom_booking_uid for a in await stack.appointments()] == [booked["booking_uid"]]
        assert (await outcomes(stack))[0] in ("owned_by_voice_flow", "unchanged")


def delivery(trigger: str, uid: str, status: str, sent_at: str) -> bytes:
    return json.dumps(
        {
            "triggerEvent": trigger,
            "createdAt": sent_at,
            "payload": {
                "uid": uid,
                "startTime": S_ISO,
                "endTime": "2026-01-07T13:30:00Z",
                "eventTypeId": 2001,
                "status": status,
                "attendees": [{"name": "Hans Schuster", "email": "hans@example.com"}],
                "metadata": {"call_id": "call_a"},
            },
        }
    ).encode()


async def test_a_delivery_that_changes_nothing_is_audited_as_no_effect(
    make_stack: StackFactory,
) -> None:
    """A CREATED for the voice flow's own booking, or a second CANCELLED, finds the appointment
    as it says already: audited `…_noop` (no effect, for the webhook-applied-once checker); a
    delivery that does change the status is audited as the change."""
    async with make_stack(webhooks=False) as stack:
        booked = await stack.collect("call_a", email="hans@example.com")
        uid = booked["booking_uid"]
        deliveries = [
            delivery("BOOKING_CREATED", uid, "ACCEPTED", "2026-01-05T07:00:01.000Z"),
            delivery("BOOKING_CANCELLED", uid, "CANCELLED", "2026-01-05T07:00:02.000Z"),
            delivery("BOOKING_CANCELLED", uid, "CANCELLED", "2026-01-05T07:00:03.000Z"),
        ]
        answers = []
        for body in deliveries:
            status, answer = await stack.post(
                "/api/webhooks/calcom", raw=body, headers=signed(body)
            )
            assert status == 200
            answers.append(answer["outcome"])
        assert answers == ["unchanged", "applied", "unchanged"]
        actions = {row.delivery_key: row.action for row in await stack.audit() if row.delivery_key}
        assert [actions[hashlib.sha256(body).hexdigest()] for body in deliveries] == [
            "scheduled_noop",
            "cancelled",
            "cancelled_noop",
        ]
        [appointment] = await stack.appointments()
        assert appointment.status == "cancelled"


async def test_a_requested_booking_is_imported_pending_then_cancelled(
    make_stack: StackFactory,
) -> None:
    async with make_stack() as stack:
        outside = await stack.control.take_slot(
            2003, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        await stack.flush()
        assert [a.status for a in await stack.appointments()] == ["pending"]
        status, _ = await stack.calcom(
            "POST", f"/v2/bookings/{outside['uid']}/cancel", {"cancellationReason": "no"}
        )
        assert status == 200
        await stack.flush()
        assert [a.status for a in await stack.appointments()] == ["cancelled"]
        assert await outcomes(stack) == ["imported", "applied"]


async def test_duplicate_deliveries_are_applied_once(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        await stack.control.add_fault(
            {
                "name": "thrice",
                "match": {"webhook": "*"},
                "trigger": {"kind": "always"},
                "action": {"kind": "webhook_duplicate", "copies": 3},
            }
        )
        await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        await stack.flush()
        assert len(await stack.appointments()) == 1
        assert await outcomes(stack) == ["imported"]
        sent = (await stack.control.state())["webhook_deliveries"]
        assert [d["http_status"] for d in sent] == [200, 200, 200]
        rejected = stack.ctx.metrics.registry.get_sample_value(
            "booking_service_duplicate_prevention_rejections_total",
            {"layer": "webhook_dedupe", "reason": "duplicate"},
        )
        assert rejected == 2


async def test_a_delivery_with_a_bad_signature_is_refused(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        await stack.control.add_fault(
            {
                "name": "forged",
                "match": {"webhook": "BOOKING_CREATED"},
                "trigger": {"kind": "always"},
                "action": {"kind": "webhook_bad_signature"},
            }
        )
        await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        await stack.flush()
        assert await stack.appointments() == []
        assert [d["http_status"] for d in (await stack.control.state())["webhook_deliveries"]] == [
            401
        ]


async def test_unknown_event_types_are_ignored(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        await stack.control.take_slot(
            2005, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        await stack.flush()
        assert await stack.appointments() == []
        assert await outcomes(stack) == ["ignored_unknown_event_type"]


@pytest.mark.parametrize(
    ("body", "status", "outcome"),
    [
        (b"not json at all", 400, "unreadable_json"),
        (b"[1, 2, 3]", 400, "missing_trigger_event"),
        (json.dumps({"triggerEvent": "BOOKING_CREATED"}).encode(), 400, "missing_payload"),
        (
            json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": 5}}).encode(),
            400,
            "unreadable_payload",
        ),
        (
            json.dumps({"triggerEvent": "MEETING_ENDED", "payload": {}}).encode(),
            200,
            "ignored_event",
        ),
        (b"\xff\xfe\x00", 400, "unreadable_json"),
    ],
)
async def test_unreadable_or_foreign_deliveries(
    make_stack: StackFactory, body: bytes, status: int, outcome: str
) -> None:
    async with make_stack(webhooks=False) as stack:
        got, answer = await stack.post("/api/webhooks/calcom", raw=body, headers=signed(body))
        assert (got, answer["outcome"]) == (status, outcome)


@pytest.mark.parametrize("header", [None, "", "sha256=abc", "no-secret-provided"])
async def test_missing_or_wrong_signatures(make_stack: StackFactory, header: str | None) -> None:
    async with make_stack(webhooks=False) as stack:
        body = json.dumps({"triggerEvent": "MEETING_ENDED", "payload": {}}).encode()
        headers = {"X-Cal-Signature-256": header} if header is not None else {}
        status, answer = await stack.post("/api/webhooks/calcom", raw=body, headers=headers)
        assert status == 401
        assert answer["outcome"] == "invalid_signature"


@pytest.mark.parametrize("ordering", [True, False], ids=["ordering-on", "ordering-off"])
async def test_a_late_rescheduled_does_not_revive_a_cancelled_new_booking(
    make_stack: StackFactory, ordering: bool
) -> None:
    """Moved in Cal.com, the new booking then cancelled; RESCHEDULED arrives after that CANCELLED."""
    defenses = Defenses() if ordering else Defenses().without("webhook_ordering")
    async with make_stack(defenses=defenses) as stack:
        outside = await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        await stack.flush()
        await stack.control.add_fault(
            {
                "name": "late",
                "match": {"webhook": "BOOKING_RESCHEDULED"},
                "trigger": {"kind": "always"},
                "action": {"kind": "webhook_reorder"},
            }
        )
        status, moved = await stack.calcom(
            "POST", f"/v2/bookings/{outside['uid']}/reschedule", {"start": "2026-01-07T14:00:00Z"}
        )
        assert status == 201
        status, _ = await stack.calcom(
            "POST", f"/v2/bookings/{moved['data']['uid']}/cancel", {"cancellationReason": "no"}
        )
        assert status == 200
        await stack.flush()
        statuses = {a.calcom_booking_uid: a.status for a in await stack.appointments()}
        assert statuses[outside["uid"]] == "rescheduled"
        if ordering:
            assert moved["data"]["uid"] not in statuses
        else:
            assert statuses[moved["data"]["uid"]] == "scheduled"  # revived
