"""Carrying out fired faults on a request or its response (contracts §1.5)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from fake_calcom.backend.errors import CalcomError
from fake_calcom.backend.faults import Fault
from fake_calcom.backend.models import Attendee, Booking, CreateRequest
from fake_calcom.backend.timefmt import parse_iso
from fake_calcom.wire.common import V2024_08_13, Answer, Ctx, success
from fake_calcom.wire.errors import GATEWAY_PAGE, THROTTLED_MESSAGE, bare, envelope
from fake_calcom.wire.serializers import booking_2024_04_15, booking_2024_08_13

if TYPE_CHECKING:
    from fake_calcom.backend.store import CreateResult
    from fake_calcom.wire.state import FakeState

MALFORMED_BODY = b'{"status":"success","data":{"id":'


# --------------------------------------------------------------------------- status answers


def status_answer(fault: Fault, state: FakeState, path: str) -> Answer:
    """A Cal.com-shaped answer with the fault's status (its `body` overrides)."""
    status = int(fault.action["status"])
    now = state.clock.now()
    headers: dict[str, str] = {}
    if status == 429:
        headers = state.limiter.peek("fault").headers()
    if "body" in fault.action:
        body = fault.action["body"]
        if isinstance(body, str):
            return Answer(status, body=body.encode(), content_type="text/plain", headers=headers)
        return Answer(status, body, headers=headers)
    if status == 409:
        return Answer(status, bare(409, "booking_conflict_error"))
    if status == 429:
        return Answer(status, envelope(429, THROTTLED_MESSAGE, path, now), headers=headers)
    if status == 500:
        return Answer(status, bare(500, "Internal server error"))
    if status == 502:
        return Answer(status, body=GATEWAY_PAGE.encode(), content_type="text/html")
    if status == 503:
        return Answer(status, bare(503, "Service Unavailable"))
    if status == 504:
        return Answer(status, body=b"upstream request timeout", content_type="text/plain")
    if status >= 400:
        messages = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found"}
        return Answer(status, envelope(status, messages.get(status, "Error"), path, now))
    return Answer(status, {"status": "success", "data": None})


# --------------------------------------------------------------------------- connection faults


async def hang(request: web.Request, state: FakeState, max_ms: float) -> None:
    """Hold the connection without answering until the client goes away (or `max_ms`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_ms / 1000
    while True:
        transport = request.transport
        if transport is None or transport.is_closing() or state.shutdown.is_set():
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        # Poll the socket: aiohttp does not cancel handlers when the client disconnects.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.shutdown.wait(), timeout=min(0.05, remaining))


def reset_connection(request: web.Request) -> None:
    """Abort with a TCP RST (SO_LINGER 0), as a crashed proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def send_truncated(request: web.Request, answer: Answer, keep: int | None, headers: dict[str, str]) -> web.StreamResponse:
    """The real status and headers, then only part of the body, then the connection closes."""
    body = answer.encoded()
    keep = len(body) // 2 if keep is None else min(keep, max(len(body) - 1, 0))
    response = web.StreamResponse(status=answer.status, headers=headers)
    response.content_type = answer.content_type
    response.content_length = len(body)
    response.force_close()
    await response.prepare(request)
    await response.write(body[:keep])
    transport = request.transport
    if transport is not None:
        transport.close()
    return response


def rewrite(answer: Answer, changes: dict[str, Any]) -> None:
    """Set dotted paths in the JSON answer (`null` deletes the field)."""
    document = copy.deepcopy(answer.payload) if answer.body is None else None
    if document is None:
        return
    for dotted, value in changes.items():
        parts = dotted.split(".")
        target = document
        for part in parts[:-1]:
            if isinstance(target, dict):
                target = target.setdefault(part, {})
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                target = None
                break
        if target is None:
            continue
        last = parts[-1]
        if isinstance(target, dict):
            if value is None:
                target.pop(last, None)
            else:
                target[last] = value
        elif isinstance(target, list) and last.isdigit() and int(last) < len(target):
            target[int(last)] = value
    answer.payload = document
    answer.body = None


# --------------------------------------------------------------------------- booking faults


def _create_fields(body: Any) -> tuple[str | None, Any]:
    """(attendee email, start) from a 2024-08-13 or 2024-04-15 create body."""
    if not isinstance(body, dict):
        return None, None
    email = None
    if isinstance(body.get("attendee"), dict):
        email = body["attendee"].get("email")
    elif isinstance(body.get("responses"), dict):
        email = body["responses"].get("email")
    return (email if isinstance(email, str) else None), body.get("start")


def stale_replay(fault: Fault, state: FakeState, ctx: Ctx, method: str, path: str) -> Answer | None:
    """Answer a create with an existing active booking at the same start (and email)."""
    if method != "POST" or path.rstrip("/") != "/v2/bookings":
        return None
    email, start_text = _create_fields(ctx.json_or_none())
    try:
        start = parse_iso(start_text)
    except (ValueError, TypeError):
        return None
    candidates = state.backend.active_at(start)
    if fault.action.get("key", "email+start") == "email+start":
        if not email:
            return None
        candidates = [b for b in candidates if any(a.email.lower() == email.lower() for a in b.attendees)]
    if not candidates:
        return None
    booking = min(candidates, key=lambda b: b.id)
    return booking_answer(booking, state, ctx, int(fault.action.get("status", 201)))


def booking_answer(booking: Booking, state: FakeState, ctx: Ctx, status: int) -> Answer:
    if ctx.route_version == V2024_08_13:
        return success(booking_2024_08_13(booking, state.backend), status)
    return success(booking_2024_04_15(booking, state.backend), status)


def slot_steal(fault: Fault, state: FakeState, ctx: Ctx, method: str, path: str, uid: str | None) -> bool:
    """Just before the request is handled, an outside booker takes its slot."""
    if method != "POST":
        return False
    body = ctx.json_or_none()
    if not isinstance(body, dict):
        return False
    backend = state.backend
    event_type = None
    if uid is not None and path.endswith("/reschedule"):
        booking = backend.bookings.get(uid)
        event_type = backend.event_type(booking.event_type_id) if booking else None
    elif path.rstrip("/") == "/v2/bookings":
        if isinstance(body.get("eventTypeId"), int):
            event_type = backend.event_type(body["eventTypeId"])
        elif isinstance(body.get("eventTypeSlug"), str):
            event_type = backend.event_type_by_slug(body["eventTypeSlug"], body.get("username"))
    if event_type is None:
        return False
    try:
        start = parse_iso(body.get("start"))
    except (ValueError, TypeError):
        return False
    attendee = fault.action.get("attendee") or {}
    try:
        backend.take_slot(
            CreateRequest(
                event_type_id=event_type.id,
                start=start,
                attendee=Attendee(
                    name=attendee.get("name", "Outside Booker"),
                    email=attendee.get("email", "outside@example.com"),
                ),
                metadata=copy.deepcopy(fault.action.get("metadata") or {}),
            )
        )
    except CalcomError:
        return False
    return True


# --------------------------------------------------------------------------- the race barrier


@dataclass
class _Parked:
    request: CreateRequest
    overbook: bool
    future: asyncio.Future[CreateResult]


@dataclass
class _Group:
    fault: Fault
    parked: list[_Parked] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class Barriers:
    """Parks matching creates until N are waiting, then decides them together.

    Availability is judged for every parked create against the state before any of them
    commits; then they commit in arrival order, and each whose idempotency key collides with
    an earlier commit gets Cal.com's bare 409 `booking_conflict_error`.
    """

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self._groups: dict[str, _Group] = {}

    async def park(self, fault: Fault, request: CreateRequest, *, overbook: bool) -> CreateResult:
        loop = asyncio.get_running_loop()
        group = self._groups.get(fault.name)
        if group is None:
            group = self._groups[fault.name] = _Group(fault)
            timeout = float(fault.action.get("timeout_ms", 2000)) / 1000
            group.timer = loop.call_later(timeout, self._release, fault.name)
        entry = _Parked(request, overbook, loop.create_future())
        group.parked.append(entry)
        fault.fired += 1
        if len(group.parked) >= int(fault.action["parties"]):
            self._release(fault.name)
        return await entry.future

    def _release(self, name: str) -> None:
        group = self._groups.pop(name, None)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
        backend = self.state.backend
        key_mode = group.fault.action.get("key", "host_slot")
        # Phase 1: every parked create checks availability against the same state.
        plans: list[Any] = []
        for entry in group.parked:
            try:
                plans.append(backend.prepare_create(entry.request, overbook=entry.overbook))
            except CalcomError as error:
                plans.append(error)
        # Phase 2: commit in arrival order; a colliding unique key loses with a 409.
        for entry, plan in zip(group.parked, plans, strict=True):
            if entry.future.done():
                continue
            if isinstance(plan, CalcomError):
                entry.future.set_exception(plan)
                continue
            origin = {"kind": "api", "api_key_owner": entry.request.api_key_owner}
            try:
                result = backend.commit(plan, origin=origin, key_mode=key_mode, check_key=not entry.overbook)
            except CalcomError as error:
                entry.future.set_exception(error)
            else:
                entry.future.set_result(result)

    def release_all(self) -> None:
        for name in list(self._groups):
            self._release(name)


def latency_seconds(fault: Fault) -> float:
    return max(0.0, fault.draw_latency_ms()) / 1000



def fire(fault: Fault, ctx: Ctx) -> None:
    fault.fired += 1
    ctx.fired.append(fault.name)


def cancel_race(fault: Fault, state: FakeState, ctx: Ctx, uid: str) -> bool:
    """A cancel of the booking a confirm/decline is about lands just before (phase `before`) or
    just after (phase `after`) it: the attendee cancelling while the host decides."""
    try:
        state.backend.cancel(uid, reason=fault.action.get("reason", "Cancelled by the attendee"))
    except CalcomError:
        return False  # no such booking, or already cancelled: matched, not fired
    fire(fault, ctx)
    return True


def take_for_reservation(fault: Fault, state: FakeState, event_type_id: int, start: datetime) -> bool:
    """`reservation_taken`: an outside booker books the slot just before it is reserved.
    True when the slot is booked now (taken by the fault, or already)."""
    backend = state.backend
    attendee = fault.action.get("attendee") or {}
    event_type = backend.event_type(event_type_id)
    if event_type is None:
        return False
    try:
        backend.take_slot(
            CreateRequest(
                event_type_id=event_type_id,
                start=start,
                attendee=Attendee(
                    name=attendee.get("name", "Outside Booker"),
                    email=attendee.get("email", "outside@example.com"),
                ),
                metadata=copy.deepcopy(fault.action.get("metadata") or {}),
            )
        )
        return True
    except CalcomError:
        end = start + timedelta(minutes=event_type.length)
        return backend.is_booked(event_type, start, end)
