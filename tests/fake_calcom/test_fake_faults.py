"""Every fault kind over real HTTP, each next to the same request without the fault.

Each test is parametrized over `armed`: the assertion on the unarmed run shows what the fault
changes, so a fault that silently stops working fails its test.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import aiohttp
import pytest

from fake_calcom import FakeServer
from fake_calcom.client import AsyncFakeControl
from fake_calcom.testing import TUESDAY_0900, CalcomApi, WebhookReceiver

CREATE = {"method": "POST", "path": "/v2/bookings"}
ARMED = pytest.mark.parametrize("armed", [True, False], ids=["armed", "unarmed"])


@pytest.fixture
async def control(fake: FakeServer, http: aiohttp.ClientSession) -> AsyncFakeControl:
    return AsyncFakeControl(fake.url, session=http)


async def arm(control: AsyncFakeControl, armed: bool, action: dict, match: dict | None = None, **extra) -> str | None:
    if not armed:
        return None
    return await control.add_fault({"name": "f", "match": match or CREATE, "action": action, **extra})


async def active_bookings(control: AsyncFakeControl) -> list[dict]:
    return [b for b in (await control.state())["bookings"] if b["status"] in ("accepted", "pending")]


async def counters(control: AsyncFakeControl) -> tuple[int, int]:
    fault = (await control.faults())["faults"][0]
    return fault["matched"], fault["fired"]


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("status", "content_type", "check"),
    [
        (409, "application/json", lambda body: json.loads(body) == {"statusCode": 409, "message": "booking_conflict_error"}),
        (429, "application/json", lambda body: json.loads(body)["error"]["code"] == "ThrottlerException"),
        (500, "application/json", lambda body: json.loads(body) == {"statusCode": 500, "message": "Internal server error"}),
        (502, "text/html", lambda body: b"502 Bad Gateway" in body),
        (503, "application/json", lambda body: json.loads(body)["statusCode"] == 503),
        (404, "application/json", lambda body: json.loads(body)["error"]["code"] == "NotFoundException"),
    ],
)
@ARMED
async def test_status_before_answers_instead_of_the_backend(
    api: CalcomApi, control: AsyncFakeControl, armed: bool, status: int, content_type: str, check
) -> None:
    await arm(control, armed, {"kind": "status", "status": status})
    reply = await api.book()
    if not armed:
        assert reply.status == 201
        return
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith(content_type)
    assert check(reply.raw)
    if status == 429:
        assert reply.headers["X-RateLimit-Remaining-Default"] == "0"
        assert "Retry-After" not in reply.headers
    assert await active_bookings(control) == []
    assert await counters(control) == (1, 1)


@ARMED
async def test_status_after_is_an_ambiguous_outcome(api: CalcomApi, control: AsyncFakeControl, armed: bool) -> None:
    await arm(control, armed, {"kind": "status", "status": 500, "phase": "after"})
    reply = await api.book(metadata={"call_id": "call_1", "idempotency_key": "k-1"})
    assert reply.status == (500 if armed else 201)
    bookings = await active_bookings(control)
    assert [b["metadata"]["idempotency_key"] for b in bookings] == ["k-1"]  # it exists either way


async def test_status_body_override(api: CalcomApi, control: AsyncFakeControl) -> None:
    await control.add_fault({"match": CREATE, "action": {"kind": "status", "status": 418, "body": {"teapot": True}}})
    reply = await api.book()
    assert reply.status == 418
    assert reply.json == {"teapot": True}


# --------------------------------------------------------------------------- latency, hang, reset


@ARMED
async def test_latency_delays_for_real(api: CalcomApi, control: AsyncFakeControl, armed: bool) -> None:
    await arm(control, armed, {"kind": "latency", "distribution": "fixed", "ms": 80})
    assert (await api.book()).status == 201
    entry = (await control.journal())["entries"][-1]
    assert (entry["latency_ms"] >= 80) is armed
    assert entry["faults"] == (["f"] if armed else [])


@pytest.mark.parametrize("phase", ["before", "after"])
@ARMED
async def test_hang_holds_the_connection_until_the_client_gives_up(
    api: CalcomApi, control: AsyncFakeControl, armed: bool, phase: str
) -> None:
    await arm(control, armed, {"kind": "hang", "phase": phase})
    if armed:
        with pytest.raises(asyncio.TimeoutError):
            await api.book(timeout_s=0.3)
    else:
        assert (await api.book(timeout_s=5)).status == 201
    assert len(await active_bookings(control)) == (0 if armed and phase == "before" else 1)


async def test_hang_gives_up_after_max_ms(api: CalcomApi, control: AsyncFakeControl) -> None:
    await control.add_fault({"match": CREATE, "action": {"kind": "hang", "max_ms": 50}})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.book(timeout_s=10)


@pytest.mark.parametrize("phase", ["before", "after"])
@ARMED
async def test_reset_aborts_the_connection(api: CalcomApi, control: AsyncFakeControl, armed: bool, phase: str) -> None:
    await arm(control, armed, {"kind": "reset", "phase": phase})
    if armed:
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.book()
    else:
        assert (await api.book()).status == 201
    assert len(await active_bookings(control)) == (0 if armed and phase == "before" else 1)


# --------------------------------------------------------------------------- broken bodies


@ARMED
async def test_truncate_sends_status_and_headers_then_part_of_the_body(api: CalcomApi, control: AsyncFakeControl, armed: bool) -> None:
    await arm(control, armed, {"kind": "truncate", "keep_bytes": 20})
    if armed:
        with pytest.raises(aiohttp.ClientPayloadError):
            await api.book()
    else:
        assert (await api.book()).status == 201
    assert len(await active_bookings(control)) == 1


@pytest.mark.parametrize(("kind", "expected"), [("malformed", b'{"status":"success","data":{"id":'), ("empty", b"")])
@ARMED
async def test_malformed_and_empty_keep_the_real_status(
    api: CalcomApi, control: AsyncFakeControl, armed: bool, kind: str, expected: bytes
) -> None:
    await arm(control, armed, {"kind": kind})
    reply = await api.book()
    assert reply.status == 201
    assert (reply.raw == expected) is armed
    assert len(await active_bookings(control)) == 1


@ARMED
async def test_rewrite_changes_fields_of_the_real_answer(api: CalcomApi, control: AsyncFakeControl, armed: bool) -> None:
    await arm(control, armed, {"kind": "rewrite", "set": {"data.createdAt": None, "data.metadata.call_id": "call_other"}})
    data = (await api.book()).data
    assert ("createdAt" not in data) is armed
    assert data["metadata"]["call_id"] == ("call_other" if armed else "call_1")
    truth = (await control.state())["bookings"][0]
    assert truth["metadata"]["call_id"] == "call_1"  # the stored booking is untouched


# --------------------------------------------------------------------------- stale replay, slot steal, overbook


@ARMED
async def test_stale_replay_returns_another_event_types_booking(api: CalcomApi, control: AsyncFakeControl, armed: bool) -> None:
    """The incident: Cal.com answered a create with a 35-minute-old booking of another call."""
    old = await control.take_slot(
        2004, TUESDAY_0900, {"name": "Hansi Sputer", "email": "termin@praxis-berlin.example"},
        metadata={"call_id": "call_687"}, age_s=35 * 60, webhooks=False,
    )
    await arm(control, armed, {"kind": "stale_replay", "key": "email+start"})
    reply = await api.book(event_type_id=2006, name="Hans Schuster", metadata={"call_id": "call_688"})
    assert reply.status == 201
    assert (reply.data["uid"] == old["uid"]) is armed
    if armed:
        assert reply.data["metadata"] == {"call_id": "call_687"}
        assert reply.data["createdAt"] == "2025-10-06T09:05:00.000Z"


async def test_stale_replay_with_nothing_to_replay_counts_matched_not_fired(api: CalcomApi, control: AsyncFakeControl) -> None:
    await control.add_fault({"match": CREATE, "action": {"kind": "stale_replay"}})
    assert (await api.book()).status == 201
    assert await counters(control) == (1, 0)
    assert (await api.book(event_type_id=2004, name="Other")).status == 201  # now there is one
    assert await counters(control) == (2, 1)


async def test_stale_replay_keyed_on_start_ignores_the_email(api: CalcomApi, control: AsyncFakeControl) -> None:
    first = (await api.book(email="someone@example.com")).data
    await control.add_fault({"match": CREATE, "action": {"kind": "stale_replay", "key": "start"}})
    reply = await api.book(event_type_id=2004, email="caller@example.com")
    assert reply.data["uid"] == first["uid"]


@ARMED
async def test_slot_steal_books_the_slot_for_an_outsider_first(api: CalcomApi, control: AsyncFakeControl, armed: bool) -> None:
    await arm(control, armed, {"kind": "slot_steal", "attendee": {"name": "Thief", "email": "thief@example.com"}})
    reply = await api.book()
    assert reply.status == (400 if armed else 201)
    bookings = await active_bookings(control)
    assert [b["origin"]["kind"] for b in bookings] == (["outside"] if armed else ["api"])


@ARMED
async def test_overbook_lets_a_second_booking_onto_a_taken_slot(api: CalcomApi, control: AsyncFakeControl, armed: bool) -> None:
    assert (await api.book(name="Caller A", email="a@example.com")).status == 201
    await arm(control, armed, {"kind": "overbook"})
    reply = await api.book(name="Caller B", email="b@example.com")
    assert reply.status == (201 if armed else 400)
    assert len(await active_bookings(control)) == (2 if armed else 1)


# --------------------------------------------------------------------------- race barrier


@pytest.mark.parametrize(("key", "winners"), [("host_slot", 1), ("attendee", 2)])
@ARMED
async def test_barrier_decides_parked_creates_together(
    api: CalcomApi, control: AsyncFakeControl, armed: bool, key: str, winners: int
) -> None:
    await arm(control, armed, {"kind": "barrier", "parties": 2, "timeout_ms": 5000, "key": key})
    replies = await asyncio.gather(
        api.book(name="Caller A", email="a@example.com"), api.book(name="Caller B", email="b@example.com")
    )
    statuses = sorted(r.status for r in replies)
    if not armed:
        assert statuses == [201, 400]  # serial: the second sees the first as busy time
        return
    if winners == 1:
        assert statuses == [201, 409]
        loser = next(r for r in replies if r.status == 409)
        assert loser.json == {"statusCode": 409, "message": "booking_conflict_error"}
    else:
        assert statuses == [201, 201]  # the pre-2025 key let different attendees double-book
    assert len(await active_bookings(control)) == winners


async def test_barrier_releases_a_short_group_at_its_timeout(api: CalcomApi, control: AsyncFakeControl) -> None:
    await control.add_fault({"match": CREATE, "action": {"kind": "barrier", "parties": 3, "timeout_ms": 100}})
    replies = await asyncio.gather(api.book(email="a@example.com"), api.book(email="b@example.com"))
    assert sorted(r.status for r in replies) == [201, 409]


# --------------------------------------------------------------------------- triggers and combinations


async def test_nth_and_first_triggers_over_http(api: CalcomApi, control: AsyncFakeControl) -> None:
    await control.set_faults({"seed": 1, "faults": [
        {"name": "second", "match": {"method": "GET", "path": "/v2/me"}, "trigger": {"kind": "nth", "n": 2},
         "action": {"kind": "status", "status": 503}},
    ]})
    statuses = [(await api.get("/v2/me")).status for _ in range(3)]
    assert statuses == [200, 503, 200]


async def test_pre_terminal_and_post_faults_compose_in_plan_order(api: CalcomApi, control: AsyncFakeControl) -> None:
    await control.set_faults({"faults": [
        {"name": "slow", "match": CREATE, "action": {"kind": "latency", "ms": 1}},
        {"name": "after", "match": CREATE, "action": {"kind": "status", "status": 502, "phase": "after"}},
        {"name": "unused", "match": {"method": "GET"}, "action": {"kind": "status", "status": 500}},
    ]})
    reply = await api.book()
    assert reply.status == 502
    fired = {f["name"]: (f["matched"], f["fired"]) for f in (await control.faults())["faults"]}
    assert fired == {"slow": (1, 1), "after": (1, 1), "unused": (0, 0)}
    assert (await control.stats())["faults"] == {"slow": 1, "after": 1, "unused": 0}


# --------------------------------------------------------------------------- webhook faults


@pytest.fixture
async def receiver() -> WebhookReceiver:
    async with WebhookReceiver() as receiver:
        yield receiver


async def book_and_cancel(api: CalcomApi, control: AsyncFakeControl) -> None:
    uid = (await api.book()).data["uid"]
    await api.post(f"/v2/bookings/{uid}/cancel", {"cancellationReason": "x"})
    await control.flush_webhooks(timeout_s=10)


def webhook_fault(kind: str, trigger: str = "BOOKING_CREATED", **action) -> dict:
    return {"name": "w", "match": {"webhook": trigger}, "action": {"kind": kind, **action}}


@ARMED
async def test_webhook_duplicate_sends_identical_copies(api, control, receiver, armed: bool) -> None:
    await control.subscribe(receiver.url, secret="whsec")
    if armed:
        await control.add_fault(webhook_fault("webhook_duplicate", copies=3))
    await book_and_cancel(api, control)
    created = [r for r in receiver.received if r.json["triggerEvent"] == "BOOKING_CREATED"]
    assert len(created) == (3 if armed else 1)
    assert len({r.body for r in created}) == 1
    copies = [d["copy"] for d in (await control.state())["webhook_deliveries"] if d["triggerEvent"] == "BOOKING_CREATED"]
    assert copies == ([1, 2, 3] if armed else [1])


@ARMED
async def test_webhook_delay_delivers_later_and_flush_waits_for_it(api, control, receiver, armed: bool) -> None:
    await control.subscribe(receiver.url)
    if armed:
        await control.add_fault(webhook_fault("webhook_delay", ms=150))
    await book_and_cancel(api, control)
    expected = ["BOOKING_CANCELLED", "BOOKING_CREATED"] if armed else ["BOOKING_CREATED", "BOOKING_CANCELLED"]
    assert receiver.triggers() == expected


@ARMED
async def test_webhook_reorder_sends_it_after_the_next_delivery(api, control, receiver, armed: bool) -> None:
    await control.subscribe(receiver.url)
    if armed:
        await control.add_fault(webhook_fault("webhook_reorder"))
    await book_and_cancel(api, control)
    expected = ["BOOKING_CANCELLED", "BOOKING_CREATED"] if armed else ["BOOKING_CREATED", "BOOKING_CANCELLED"]
    assert receiver.triggers() == expected


@ARMED
async def test_webhook_drop_never_delivers(api, control, receiver, armed: bool) -> None:
    await control.subscribe(receiver.url)
    if armed:
        await control.add_fault(webhook_fault("webhook_drop"))
    await book_and_cancel(api, control)
    assert receiver.triggers() == (["BOOKING_CANCELLED"] if armed else ["BOOKING_CREATED", "BOOKING_CANCELLED"])
    outcomes = [d["outcome"] for d in (await control.state())["webhook_deliveries"]]
    assert outcomes == (["dropped", "sent"] if armed else ["sent", "sent"])
    assert (await control.stats())["webhooks"]["dropped"] == (1 if armed else 0)


@ARMED
async def test_webhook_bad_signature(api, control, receiver, armed: bool) -> None:
    await control.subscribe(receiver.url, secret="whsec_calharness", triggers=["BOOKING_CREATED"])
    if armed:
        await control.add_fault(webhook_fault("webhook_bad_signature"))
    await book_and_cancel(api, control)
    (delivery,) = receiver.received
    expected = hmac.new(b"whsec_calharness", delivery.body, hashlib.sha256).hexdigest()
    assert (delivery.headers["X-Cal-Signature-256"] == expected) is not armed
    (truth,) = (await control.state())["webhook_deliveries"]
    assert truth["signature_valid"] is not armed
