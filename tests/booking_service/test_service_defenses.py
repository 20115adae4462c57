"""Each defense of docs/contracts.md §2.2, proven by its §2.8 scenario with every other defense on.

Every test is parameterized over the defense's switch: with it on the scenario ends well; with
it off the test asserts the bad outcome (the violation the harness must catch). Runs over real
HTTP against the fake Cal.com, on SQLite and on MariaDB.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
from service_stack import (
    BERLIN_KEY,
    FALLBACK_EMAIL,
    HAMBURG_KEY,
    S_ISO,
    WEBHOOK_SECRET,
    Barrier,
    S,
    Stack,
    StackFactory,
)

from booking_service import Defenses

ON_OFF = [pytest.param(True, id="on"), pytest.param(False, id="off")]


def defenses(name: str, on: bool) -> Defenses:
    return Defenses() if on else Defenses().without(name)


async def stolen(stack: Stack, answer: dict[str, Any], call_id: str) -> bool:
    """The caller was told "booked" with an upstream booking that was not made for their call."""
    if answer["status"] != "booked":
        return False
    [booking] = [b for b in await stack.upstream() if b["uid"] == answer["booking_uid"]]
    return booking["origin"]["kind"] == "outside" or booking["metadata"].get("call_id") != call_id


async def assert_refused_stale(stack: Stack, answer: dict[str, Any], reason: str) -> None:
    assert answer["status"] == "stale_booking_data", answer
    assert answer["reason"] == reason
    assert answer["success"] is False
    assert await stack.appointments() == []


# --- (1) freshness ---------------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_freshness(make_stack: StackFactory, on: bool) -> None:
    """Round robin: Cal.com's dedupe answers with a 35-minute-old booking for the fallback e-mail."""
    async with make_stack(defenses=defenses("freshness", on)) as stack:
        await stack.control.take_slot(
            2004,
            S_ISO,
            {"name": "Hans Schuster", "email": FALLBACK_EMAIL},
            age_s=35 * 60,
            webhooks=False,
        )
        answer = await stack.collect("call_688", service="Teamtermin")
        if on:
            await assert_refused_stale(stack, answer, "booking_too_old")
        else:
            assert await stolen(stack, answer, "call_688")


@pytest.mark.parametrize("on", ON_OFF)
async def test_freshness_refuses_a_booking_made_before_the_request(
    make_stack: StackFactory, on: bool
) -> None:
    """Fresh (5 s), no call id, the caller's own name: a namesake booked at the desk with the
    fallback e-mail just before. Only "made before we asked" gives it away (found by the
    state machine, `calharness explore`)."""
    async with make_stack(defenses=defenses("freshness", on)) as stack:
        await stack.control.take_slot(
            2004,
            S_ISO,
            {"name": "Hans Schuster", "email": FALLBACK_EMAIL},
            age_s=5,
            webhooks=False,
        )
        answer = await stack.collect("call_688", service="Teamtermin")
        if on:
            await assert_refused_stale(stack, answer, "booking_predates_request")
        else:
            assert await stolen(stack, answer, "call_688")


@pytest.mark.parametrize("on", ON_OFF)
async def test_freshness_refuses_a_booking_of_unknown_age_without_call_id(
    make_stack: StackFactory, on: bool
) -> None:
    """The same namesake's booking made as the create arrives, but Cal.com's answer lacks
    `createdAt`: with no call id either, nothing shows it is the caller's."""
    async with make_stack(defenses=defenses("freshness", on)) as stack:
        await stack.control.take_slot(
            2004, S_ISO, {"name": "Hans Schuster", "email": FALLBACK_EMAIL}, age_s=0,
            webhooks=False,
        )
        await stack.control.add_fault(
            {
                "name": "no-created-at",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "always"},
                "action": {"kind": "rewrite", "set": {"data.createdAt": None}},
            }
        )
        answer = await stack.collect("call_688", service="Teamtermin")
        if on:
            await assert_refused_stale(stack, answer, "booking_age_unknown")
        else:
            assert await stolen(stack, answer, "call_688")


# --- (2) call_id_match -----------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_call_id_match(make_stack: StackFactory, on: bool) -> None:
    """A fresh (5 s) booking comes back, but its metadata names another call."""
    async with make_stack(defenses=defenses("call_id_match", on)) as stack:
        await stack.control.take_slot(
            2004,
            S_ISO,
            {"name": "Hans Schuster", "email": FALLBACK_EMAIL},
            age_s=5,
            metadata={"call_id": "call_687"},
            webhooks=False,
        )
        answer = await stack.collect("call_688", service="Teamtermin")
        if on:
            await assert_refused_stale(stack, answer, "call_id_mismatch")
        else:
            assert await stolen(stack, answer, "call_688")


# --- (3) attendee_match ----------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_attendee_match(make_stack: StackFactory, on: bool) -> None:
    """A booking without call_id comes back, made by someone else with the fallback e-mail just as
    the create arrived (the fake's `slot_steal`): not older than the request, so only the attendee
    name gives it away."""
    async with make_stack(defenses=defenses("attendee_match", on)) as stack:
        await stack.control.add_fault(
            {
                "name": "desk-books-first",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "first", "k": 1},
                "action": {
                    "kind": "slot_steal",
                    "attendee": {"name": "Outside Booker", "email": FALLBACK_EMAIL},
                },
            }
        )
        answer = await stack.collect("call_688", service="Teamtermin")
        if on:
            assert (answer["status"], answer["reason"]) == ("stale_booking_data", "attendee_mismatch")
            # The desk's booking may be imported by its webhook, never as the caller's.
            assert [a for a in await stack.appointments() if a.call_id == "call_688"] == []
        else:
            assert await stolen(stack, answer, "call_688")


# --- (4) uid_duplicate_check -----------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_uid_duplicate_check(make_stack: StackFactory, on: bool) -> None:
    """Cal.com replays a fresh booking the service already imported from its webhook (made as
    the create arrives: an older one would be refused by freshness first)."""
    async with make_stack(defenses=defenses("uid_duplicate_check", on)) as stack:
        outside = await stack.control.take_slot(
            2002, S_ISO, {"name": "Hans Schuster", "email": "hans.schuster@example.com"}, age_s=0
        )
        await stack.flush()
        [imported] = await stack.appointments()
        assert (imported.source, imported.call_id, imported.calcom_booking_uid) == (
            "webhook",
            None,
            outside["uid"],
        )
        await stack.control.add_fault(
            {
                "name": "replay-at-start",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "always"},
                "action": {"kind": "stale_replay", "key": "start"},
            }
        )
        answer = await stack.collect("call_688", service="Beratung")
        if on:
            assert answer["status"] == "duplicate", answer
            assert answer["reason"] == "booking_uid_exists"
            assert "appointment_id" not in answer
        else:
            # The UNIQUE index catches the insert and hands the caller the imported appointment.
            assert answer["status"] == "booked", answer
            assert answer["reason"] == "existing_appointment_returned"
            assert answer["appointment_id"] == imported.id
            assert await stolen(stack, answer, "call_688")
        assert len(await stack.appointments()) == 1


# --- (5) unique_constraint -------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_unique_constraint(make_stack: StackFactory, on: bool) -> None:
    """A webhook import and a reconcile repair of one booking, forced to interleave."""
    barrier = Barrier(2, timeout_s=5.0)
    failpoints = {"webhook.before_insert": barrier.wait, "reconcile.before_insert": barrier.wait}
    async with make_stack(
        defenses=defenses("unique_constraint", on), failpoints=failpoints
    ) as stack:
        outside = await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        _, (status, report) = await asyncio.gather(
            stack.flush(),
            stack.post(
                "/api/reconcile",
                {"repair": True},
                headers={"Authorization": f"Bearer {BERLIN_KEY}"},
            ),
        )
        assert status == 200, report
        assert barrier.arrived == 2
        assert barrier.timed_out == 0  # both really stood between check and insert together
        holders = [a for a in await stack.appointments() if a.calcom_booking_uid == outside["uid"]]
        if on:
            assert len(holders) == 1
        else:
            assert len(holders) == 2


# --- (6) availability_double_check -----------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_availability_double_check(make_stack: StackFactory, on: bool) -> None:
    """B checked while S was free; A books S; B books S while Cal.com would accept an overlap."""
    async with make_stack(defenses=defenses("availability_double_check", on)) as stack:
        check = await stack.retell(
            "check-availability", datum="07.01.2026", uhrzeit="14:00", call_id="call_b"
        )
        assert check["available"] is True
        assert (await stack.collect("call_a", name="Anna Alt"))["status"] == "booked"
        await stack.control.add_fault(
            {
                "name": "overbook",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "always"},
                "action": {"kind": "overbook"},
            }
        )
        answer = await stack.collect("call_b", name="Bernd Brot")
        if on:
            assert answer["status"] == "slot_taken", answer
            assert answer["reason"] == "local_appointment"
            assert answer["alternatives"]
            assert len(await stack.active_upstream_at()) == 1
        else:
            assert answer["status"] == "booked"
            assert len(await stack.active_upstream_at()) == 2  # two bookings on host 101 at S


# --- (7) slot_lock ---------------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_slot_lock(make_stack: StackFactory, on: bool) -> None:
    """A and B at once; both would pass the double-check unless the lock serialises them."""
    barrier = Barrier(2, timeout_s=0.5)
    async with make_stack(
        defenses=defenses("slot_lock", on), failpoints={"collect.after_double_check": barrier.wait}
    ) as stack:
        await stack.control.add_fault(
            {
                "name": "overbook",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "always"},
                "action": {"kind": "overbook"},
            }
        )
        a, b = await asyncio.gather(
            stack.collect("call_a", name="Anna Alt"), stack.collect("call_b", name="Bernd Brot")
        )
        statuses = sorted([a["status"], b["status"]])
        if on:
            assert statuses == ["booked", "slot_taken"], (a, b)
            assert barrier.timed_out == 1  # the lock kept the second caller away from the barrier
            assert len(await stack.active_upstream_at()) == 1
        else:
            assert statuses == ["booked", "booked"], (a, b)
            assert len(await stack.active_upstream_at()) == 2


# --- (8) ambiguous_create_lookup -------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_ambiguous_create_lookup(make_stack: StackFactory, on: bool) -> None:
    """The first create commits at Cal.com but the answer never arrives (client timeout)."""
    async with make_stack(
        defenses=defenses("ambiguous_create_lookup", on), calcom_timeout_s=0.3
    ) as stack:
        await stack.control.add_fault(
            {
                "name": "hang-after-commit",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "nth", "n": 1},
                "action": {"kind": "hang", "phase": "after", "max_ms": 5000},
            }
        )
        answer = await stack.collect("call_a")
        [booking] = await stack.active_upstream_at()
        assert booking["metadata"]["call_id"] == "call_a"  # Cal.com did book it for this call
        if on:
            assert answer["status"] == "booked", answer
            assert answer["booking_uid"] == booking["uid"]
            assert [a.calcom_booking_uid for a in await stack.appointments()] == [booking["uid"]]
        else:
            # The blind retry runs into our own booking: the caller hears "taken" — a lost booking.
            assert answer["status"] == "slot_taken", answer
            assert await stack.appointments() == []


# --- (9) webhook_signature -------------------------------------------------------------------


def cancelled_delivery(uid: str) -> bytes:
    return json.dumps(
        {
            "triggerEvent": "BOOKING_CANCELLED",
            "createdAt": "2026-01-05T07:00:00.000Z",
            "payload": {
                "uid": uid,
                "startTime": "2026-01-07T13:00:00Z",
                "endTime": "2026-01-07T13:30:00Z",
                "eventTypeId": 2001,
                "status": "CANCELLED",
                "attendees": [],
                "metadata": {},
            },
        }
    ).encode()


@pytest.mark.parametrize("on", ON_OFF)
async def test_webhook_signature(make_stack: StackFactory, on: bool) -> None:
    """A forged BOOKING_CANCELLED (signed with the wrong secret) for a real appointment."""
    async with make_stack(defenses=defenses("webhook_signature", on)) as stack:
        booked = await stack.collect("call_a")
        await stack.flush()
        body = cancelled_delivery(booked["booking_uid"])
        forged = hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
        status, _ = await stack.post(
            "/api/webhooks/calcom", raw=body, headers={"X-Cal-Signature-256": forged}
        )
        [appointment] = await stack.appointments()
        if on:
            assert status == 401
            assert appointment.status == "scheduled"
        else:
            assert status == 200
            assert appointment.status == "cancelled"  # cancelled by a forgery


async def test_webhook_signature_accepts_the_real_secret(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        body = cancelled_delivery(booked["booking_uid"])
        signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        status, _ = await stack.post(
            "/api/webhooks/calcom", raw=body, headers={"X-Cal-Signature-256": signature}
        )
        assert status == 200
        assert [a.status for a in await stack.appointments()] == ["cancelled"]


# --- (10) webhook_dedupe ---------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_webhook_dedupe(make_stack: StackFactory, on: bool) -> None:
    """Cal.com delivers BOOKING_RESCHEDULED twice, byte for byte. The second copy finds
    nothing left to change, so without the defense it is processed as a no-op: one more audit
    row of the same delivery on each appointment it touches."""
    async with make_stack(defenses=defenses("webhook_dedupe", on)) as stack:
        booked = await stack.collect("call_a")
        await stack.flush()
        await stack.control.add_fault(
            {
                "name": "twice",
                "match": {"webhook": "BOOKING_RESCHEDULED"},
                "trigger": {"kind": "always"},
                "action": {"kind": "webhook_duplicate", "copies": 2},
            }
        )
        status, _ = await stack.calcom(
            "POST",
            f"/v2/bookings/{booked['booking_uid']}/reschedule",
            {"start": "2026-01-07T14:00:00Z"},
        )
        assert status == 201
        await stack.flush()
        old = booked["appointment_id"]
        rows = [
            e
            for e in await stack.audit()
            if e.appointment_id == old and e.action.startswith("rescheduled")
        ]
        assert len({e.delivery_key for e in rows}) == 1  # one delivery (sent twice)
        assert [e.action for e in rows] == (
            ["rescheduled"] if on else ["rescheduled", "rescheduled_noop"]
        )
        assert sorted(a.status for a in await stack.appointments()) == ["rescheduled", "scheduled"]


# --- (11) webhook_ordering -------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_webhook_ordering(make_stack: StackFactory, on: bool) -> None:
    """CANCELLED overtakes CREATED for an outside booking."""
    async with make_stack(defenses=defenses("webhook_ordering", on)) as stack:
        await stack.control.add_fault(
            {
                "name": "created-late",
                "match": {"webhook": "BOOKING_CREATED"},
                "trigger": {"kind": "always"},
                "action": {"kind": "webhook_reorder"},
            }
        )
        outside = await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside Booker", "email": "outside@example.com"}
        )
        status, _ = await stack.calcom(
            "POST", f"/v2/bookings/{outside['uid']}/cancel", {"cancellationReason": "changed plans"}
        )
        assert status == 200
        await stack.flush()
        [upstream] = [b for b in await stack.upstream() if b["uid"] == outside["uid"]]
        assert upstream["status"] == "cancelled"
        active = [a for a in await stack.appointments() if a.status in ("scheduled", "pending")]
        if on:
            assert active == []
        else:
            assert [a.calcom_booking_uid for a in active] == [outside["uid"]]  # revived


# --- (12) tenant_isolation -------------------------------------------------------------------


@pytest.mark.parametrize("on", ON_OFF)
async def test_tenant_isolation(make_stack: StackFactory, on: bool) -> None:
    """Hamburg's key reads Berlin's appointment by id, in the list, and through customer search."""
    async with make_stack(defenses=defenses("tenant_isolation", on)) as stack:
        booked = await stack.collect("call_a", telefon="+49 170 1234567")
        assert booked["status"] == "booked"
        appointment_id = booked["appointment_id"]
        by_id, one = await stack.get(f"/api/appointments/{appointment_id}", HAMBURG_KEY)
        _, listed = await stack.get("/api/appointments", HAMBURG_KEY)
        _, found = await stack.get("/api/customers", HAMBURG_KEY, {"search": "Schuster"})
        own_status, own = await stack.get(f"/api/appointments/{appointment_id}", BERLIN_KEY)
        assert own_status == 200
        assert own["start"] == S_ISO
        if on:
            assert by_id == 404
            assert listed["appointments"] == []
            assert found["customers"] == []
        else:
            assert by_id == 200
            assert one["id"] == appointment_id
            assert [a["id"] for a in listed["appointments"]] == [appointment_id]
            assert [c["name"] for c in found["customers"]] == ["Hans Schuster"]


def test_every_defense_has_a_test_here() -> None:
    from booking_service import DEFENSE_NAMES

    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert set(DEFENSE_NAMES) <= tested


_ = S  # the slot the scenarios book (see service_stack)
