"""Reconciliation against the fake: missing bookings, orphans, mismatches, and repair."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from service_stack import BERLIN_KEY, S_ISO, Stack, StackFactory

from booking_service.flows.reconcile import reconcile
from booking_service.models import Customer


async def run(stack: Stack, **body: Any) -> dict[str, Any]:
    status, report = await stack.post(
        "/api/reconcile", body, headers={"Authorization": f"Bearer {BERLIN_KEY}"}
    )
    assert status == 200, report
    return report


async def test_nothing_to_report_when_in_sync(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        await stack.collect("call_a")
        await stack.control.take_slot(
            2001, "2026-01-07T14:00:00Z", {"name": "Outside", "email": "o@example.com"}
        )
        await stack.flush()
        assert await run(stack) == {"orphans": [], "missing": [], "mismatches": [], "repaired": 0}


async def test_missing_booking_is_reported_then_imported(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        outside = await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside", "email": "o@example.com"}, webhooks=False
        )
        report = await run(stack)
        assert [(m["booking_uid"], m["start"]) for m in report["missing"]] == [
            (outside["uid"], S_ISO)
        ]
        assert report["repaired"] == 0
        assert await stack.appointments() == []

        repaired = await run(stack, repair=True)
        assert repaired["repaired"] == 1
        [appointment] = await stack.appointments()
        assert (appointment.calcom_booking_uid, appointment.source, appointment.call_id) == (
            outside["uid"],
            "reconcile",
            None,
        )
        assert (await run(stack))["missing"] == []


async def test_bookings_of_every_host_are_seen(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        haarschnitt = await stack.control.take_slot(
            2002, S_ISO, {"name": "Outside", "email": "o@example.com"}, webhooks=False
        )
        report = await run(stack)  # Ben's booking: listed with his key, not Anna's
        assert [m["booking_uid"] for m in report["missing"]] == [haarschnitt["uid"]]


async def test_orphan_after_a_dropped_cancellation_is_cancelled_locally(
    make_stack: StackFactory,
) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        await stack.flush()
        await stack.control.add_fault(
            {
                "name": "lost",
                "match": {"webhook": "BOOKING_CANCELLED"},
                "trigger": {"kind": "always"},
                "action": {"kind": "webhook_drop"},
            }
        )
        status, _ = await stack.calcom(
            "POST", f"/v2/bookings/{booked['booking_uid']}/cancel", {"cancellationReason": "x"}
        )
        assert status == 200
        await stack.flush()
        assert [a.status for a in await stack.appointments()] == ["scheduled"]  # drifted

        report = await run(stack, repair=True)
        assert [(o["appointment_id"], o["reason"]) for o in report["orphans"]] == [
            (booked["appointment_id"], "cancelled_upstream")
        ]
        assert report["repaired"] == 1
        assert [a.status for a in await stack.appointments()] == ["cancelled"]
        assert [(e.action, e.source) for e in await stack.audit() if e.action == "cancelled"] == [
            ("cancelled", "reconcile")
        ]


async def test_attendee_mismatch_is_reported(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        async with stack.ctx.sessions.begin() as session:
            await session.execute(sa.update(Customer).values(name="Somebody Else"))
        report = await run(stack)
        assert report["mismatches"] == [
            {
                "appointment_id": booked["appointment_id"],
                "booking_uid": booked["booking_uid"],
                "fields": {"attendee": {"local": "Somebody Else", "upstream": "Hans Schuster"}},
            }
        ]


async def test_reconcile_all_companies_as_a_function(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        await stack.control.take_slot(
            2006, S_ISO, {"name": "Hamburger", "email": "h@example.com"}, webhooks=False
        )
        report = await reconcile(stack.ctx, repair=False)
        assert [m["event_type_id"] for m in report.missing] == [2006]


async def test_reconcile_endpoint_needs_a_company_key(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        status, _ = await stack.post("/api/reconcile", {})
        assert status == 401
        status, answer = await stack.post(
            "/api/reconcile", {"repair": "yes"}, headers={"Authorization": f"Bearer {BERLIN_KEY}"}
        )
        assert (status, answer["error"]) == (400, "bad_request")
        status, _ = await stack.post(
            "/api/reconcile", raw=b"{", headers={"Authorization": f"Bearer {BERLIN_KEY}"}
        )
        assert status == 400
        for body in (
            [],
            {"from": 5},
            {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ):
            status, answer = await stack.post(
                "/api/reconcile", body, headers={"Authorization": f"Bearer {BERLIN_KEY}"}
            )
            assert (status, answer["error"]) == (400, "bad_request"), body
