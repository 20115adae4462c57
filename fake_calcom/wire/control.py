"""The control plane `/_fake/…` (contracts §1.6): plain JSON in and out, no auth.

Errors are `{"error": "…"}` with 400 (bad input), 404 (unknown path) or 409 (slot taken).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from fake_calcom.backend.errors import CalcomError
from fake_calcom.backend.faults import FaultPlan, FaultPlanError
from fake_calcom.backend.models import Attendee, CreateRequest
from fake_calcom.backend.seed_data import SeedDataError
from fake_calcom.backend.timefmt import is_time_zone, parse_iso
from fake_calcom.wire.common import STATE_KEY, parse_json
from fake_calcom.wire.serializers import booking_2024_08_13, webhook
from fake_calcom.wire.state import FakeState


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _ok(document: Any, status: int = 200) -> web.Response:
    return web.json_response(document, status=status)


async def _body(request: web.Request, *, required: bool = True) -> Any:
    raw = await request.read()
    try:
        document = parse_json(raw)
    except CalcomError as error:
        raise ControlError(400, f"body is not JSON: {error.message}") from None
    if document is None and required:
        raise ControlError(400, "a JSON body is required")
    return document


def _object(document: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ControlError(400, f"{what}: expected a JSON object")
    unknown = set(document) - allowed
    if unknown:
        raise ControlError(400, f"{what}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return document


def _state(request: web.Request) -> FakeState:
    return request.app[STATE_KEY]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(400, f"{what} must be a number")
    return float(value)


# --------------------------------------------------------------------------- reset, seed data


async def reset(request: web.Request) -> web.Response:
    body = await _body(request, required=False) or {}
    scope = _object(body, {"scope"}, "reset").get("scope", "all")
    if scope not in ("all", "bookings", "restore"):
        raise ControlError(400, "scope must be 'all', 'bookings' or 'restore'")
    if scope == "restore":  # exactly as the fake was started: seed data, faults, limiter, journal
        _state(request).restore()
    else:
        _state(request).reset(scope)
    return _ok({"reset": scope})


async def get_seed_data(request: web.Request) -> web.Response:
    return _ok(_state(request).backend.seed_data())


async def put_seed_data(request: web.Request) -> web.Response:
    state = _state(request)
    raw = await _body(request)
    try:
        state.backend.replace_seed_data(raw)
    except SeedDataError as error:
        raise ControlError(400, f"seed data: {error}") from None
    state.reset("all")
    return _ok(state.backend.seed_data())


# --------------------------------------------------------------------------- faults


async def get_faults(request: web.Request) -> web.Response:
    return _ok(_state(request).faults.to_json())


async def put_faults(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        state.faults = FaultPlan.parse(await _body(request))
    except FaultPlanError as error:
        raise ControlError(400, str(error)) from None
    return _ok(state.faults.to_json())


async def add_fault(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        fault = state.faults.add(await _body(request))
    except FaultPlanError as error:
        raise ControlError(400, str(error)) from None
    return _ok({"name": fault.name})


async def clear_faults(request: web.Request) -> web.Response:
    state = _state(request)
    state.faults = FaultPlan(state.faults.seed)
    return _ok(state.faults.to_json())


# --------------------------------------------------------------------------- clock


async def get_clock(request: web.Request) -> web.Response:
    return _ok(_state(request).clock.describe())


async def post_clock(request: web.Request) -> web.Response:
    clock = _state(request).clock
    body = _object(await _body(request), {"freeze", "advance_s", "unfreeze", "reset"}, "clock")
    if not body:
        raise ControlError(400, "clock: give one of freeze, advance_s, unfreeze, reset")
    if body.get("reset") is True:
        clock.reset()
    if "freeze" in body:
        at = body["freeze"]
        if at is True:
            clock.freeze()
        elif isinstance(at, str):
            try:
                clock.freeze(parse_iso(at))
            except ValueError:
                raise ControlError(400, f"freeze: not an ISO-8601 time: {at!r}") from None
        else:
            raise ControlError(400, "freeze must be an ISO-8601 time or true")
    if "advance_s" in body:
        clock.advance(_number(body["advance_s"], "advance_s"))
    if body.get("unfreeze") is True:
        clock.unfreeze()
    return _ok(clock.describe())


# --------------------------------------------------------------------------- outside bookings

TAKE_SLOT_FIELDS = {"eventTypeId", "start", "attendee", "metadata", "age_s", "createdAt", "status", "webhooks"}


async def take_slot(request: web.Request) -> web.Response:
    state = _state(request)
    backend = state.backend
    body = _object(await _body(request), TAKE_SLOT_FIELDS, "take-slot")
    event_type_id = body.get("eventTypeId")
    if isinstance(event_type_id, bool) or not isinstance(event_type_id, int):
        raise ControlError(400, "take-slot: eventTypeId (integer) is required")
    try:
        start = parse_iso(body.get("start"))
    except (ValueError, TypeError):
        raise ControlError(400, "take-slot: start must be an ISO-8601 time") from None
    attendee = _object(body.get("attendee"), {"name", "email", "phoneNumber", "timeZone"}, "take-slot.attendee")
    if not isinstance(attendee.get("name"), str) or not isinstance(attendee.get("email", ""), str):
        raise ControlError(400, "take-slot.attendee needs a name and an email")
    time_zone = attendee.get("timeZone", "Europe/Berlin")
    if not is_time_zone(time_zone):
        raise ControlError(400, f"take-slot.attendee.timeZone: unknown time zone {time_zone!r}")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ControlError(400, "take-slot.metadata must be an object")
    created_at = None
    if "createdAt" in body:
        try:
            created_at = parse_iso(body["createdAt"])
        except (ValueError, TypeError):
            raise ControlError(400, "take-slot.createdAt must be an ISO-8601 time") from None
    elif "age_s" in body:
        created_at = state.clock.now() - timedelta(seconds=_number(body["age_s"], "age_s"))
    status = body.get("status")
    if status is not None and status not in ("accepted", "pending"):
        raise ControlError(400, "take-slot.status must be 'accepted' or 'pending'")
    webhooks = body.get("webhooks", True)
    if not isinstance(webhooks, bool):
        raise ControlError(400, "take-slot.webhooks must be true or false")
    if backend.event_type(event_type_id) is None:
        raise ControlError(404, f"unknown event type {event_type_id}")
    try:
        booking = backend.take_slot(
            CreateRequest(
                event_type_id=event_type_id,
                start=start,
                attendee=Attendee(
                    name=attendee["name"],
                    email=attendee.get("email", ""),
                    time_zone=time_zone,
                    phone_number=attendee.get("phoneNumber"),
                ),
                metadata=metadata,
            ),
            created_at=created_at,
            status=status,
            webhooks=webhooks,
        )
    except CalcomError as error:
        raise ControlError(409 if error.status == 400 else error.status, error.message) from None
    return _ok(booking_2024_08_13(booking, backend))


async def desk_cancel(request: web.Request) -> web.Response:
    """The host cancels a booking at the desk: Cal.com's own cancel (status, reason, webhook),
    reached through the control plane so no armed fault can catch the harness's own action
    (a `hang` on cancel would otherwise hold the desk for minutes)."""
    backend = _state(request).backend
    body = _object(await _body(request), {"uid", "reason"}, "desk-cancel")
    uid, reason = body.get("uid"), body.get("reason", "Abgesagt am Empfang")
    if not isinstance(uid, str) or not isinstance(reason, str) or not reason:
        raise ControlError(400, "desk-cancel: uid and reason must be non-empty strings")
    booking = backend.bookings.get(uid)
    if booking is None:
        raise ControlError(404, f"desk-cancel: unknown booking {uid!r}")
    hosts = backend.hosts_of(booking)
    try:
        booking = backend.cancel(uid, reason=reason, caller=hosts[0] if hosts else None)
    except CalcomError as error:
        raise ControlError(409 if error.status == 400 else error.status, error.message) from None
    return _ok(booking_2024_08_13(booking, backend))


# --------------------------------------------------------------------------- observation


async def get_state(request: web.Request) -> web.Response:
    return _ok(_state(request).backend.ground_truth())


def _query_int(request: web.Request, key: str, default: int | None) -> int | None:
    if key not in request.query:
        return default
    try:
        value = int(request.query[key])
    except ValueError:
        raise ControlError(400, f"{key} must be an integer") from None
    if value < 0:
        raise ControlError(400, f"{key} must be >= 0")
    return value


async def get_journal(request: web.Request) -> web.Response:
    journal = _state(request).journal
    since = _query_int(request, "since", 0) or 0
    limit = _query_int(request, "limit", None)
    return _ok({"enabled": journal.enabled, "capacity": journal.capacity, "entries": journal.read(since, limit)})


async def put_journal(request: web.Request) -> web.Response:
    journal = _state(request).journal
    body = _object(await _body(request), {"enabled", "capacity"}, "journal")
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise ControlError(400, "journal.enabled must be true or false")
    capacity = body.get("capacity")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1):
        raise ControlError(400, "journal.capacity must be an integer >= 1")
    journal.configure(enabled=enabled, capacity=capacity)
    return _ok(journal.settings())


async def get_stats(request: web.Request) -> web.Response:
    return _ok(_state(request).stats_document())


async def get_rate_limit(request: web.Request) -> web.Response:
    return _ok(_state(request).limiter.settings())


async def put_rate_limit(request: web.Request) -> web.Response:
    limiter = _state(request).limiter
    body = _object(await _body(request), {"enabled", "limit", "window_s", "block_s"}, "rate-limit")
    enabled = body.get("enabled", limiter.enabled)
    if not isinstance(enabled, bool):
        raise ControlError(400, "rate-limit.enabled must be true or false")
    limit = body.get("limit", limiter.limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ControlError(400, "rate-limit.limit must be an integer >= 1")
    window_s = _number(body.get("window_s", limiter.window_s), "rate-limit.window_s")
    block_s = _number(body.get("block_s", limiter.block_s), "rate-limit.block_s")
    if window_s <= 0 or block_s < 0:
        raise ControlError(400, "rate-limit: window_s must be > 0 and block_s >= 0")
    limiter.configure(enabled=enabled, limit=limit, window_s=window_s, block_s=block_s)
    limiter.reset()
    return _ok(limiter.settings())


# --------------------------------------------------------------------------- webhooks


async def flush_webhooks(request: web.Request) -> web.Response:
    state = _state(request)
    body = _object(await _body(request, required=False) or {}, {"timeout_s"}, "flush")
    timeout = _number(body.get("timeout_s", 10), "timeout_s")
    assert state.delivery is not None
    done = await state.delivery.flush(timeout)
    records = [d.ground_truth() for d in state.backend.webhooks.records]
    pending = sum(1 for r in records if r["outcome"] == "pending")
    if not done:
        return _ok({"error": f"webhook deliveries still pending after {timeout} s", "pending": pending,
                    "deliveries": records}, status=504)
    return _ok({"deliveries": records, "pending": pending})


async def put_webhook_mode(request: web.Request) -> web.Response:
    state = _state(request)
    body = _object(await _body(request), {"hold"}, "webhooks.mode")
    hold = body.get("hold")
    if not isinstance(hold, bool):
        raise ControlError(400, "webhooks.mode.hold must be true or false")
    assert state.delivery is not None
    state.delivery.hold = hold
    if not hold:
        state.delivery.wake()
    return _ok({"hold": hold, "pending": len(state.backend.webhooks.pending)})


async def subscribe(request: web.Request) -> web.Response:
    backend = _state(request).backend
    body = _object(await _body(request), {"subscriberUrl", "triggers", "secret", "active", "payloadTemplate"}, "subscribe")
    url = body.get("subscriberUrl")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ControlError(400, "subscribe.subscriberUrl must be an http(s) URL")
    from fake_calcom.backend.webhooks import TRIGGERS

    triggers = body.get("triggers")
    if triggers is not None and (not isinstance(triggers, list) or any(t not in TRIGGERS for t in triggers)):
        raise ControlError(400, f"subscribe.triggers must be a list of {list(TRIGGERS)}")
    secret = body.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise ControlError(400, "subscribe.secret must be a string")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise ControlError(400, "subscribe.active must be true or false")
    subscription = backend.add_subscription(
        subscriber_url=url, triggers=triggers, secret=secret, active=active,
        payload_template=body.get("payloadTemplate"),
    )
    return _ok(webhook(subscription))


async def healthz(request: web.Request) -> web.Response:
    """Up and answering (the same path as the booking service's, under the control plane)."""
    return _ok({"status": "ok", "now": _state(request).clock.describe()["now"]})


def add_routes(app: web.Application) -> None:
    from fake_calcom.wire import rendezvous

    rendezvous.add_routes(app)
    router = app.router
    router.add_get("/_fake/healthz", healthz)
    router.add_post("/_fake/reset", reset)
    router.add_get("/_fake/seed-data", get_seed_data)
    router.add_put("/_fake/seed-data", put_seed_data)
    router.add_get("/_fake/faults", get_faults)
    router.add_put("/_fake/faults", put_faults)
    router.add_post("/_fake/faults", add_fault)
    router.add_delete("/_fake/faults", clear_faults)
    router.add_get("/_fake/clock", get_clock)
    router.add_post("/_fake/clock", post_clock)
    router.add_post("/_fake/take-slot", take_slot)
    router.add_post("/_fake/desk-cancel", desk_cancel)
    router.add_get("/_fake/state", get_state)
    router.add_get("/_fake/journal", get_journal)
    router.add_put("/_fake/journal", put_journal)
    router.add_get("/_fake/stats", get_stats)
    router.add_get("/_fake/rate-limit", get_rate_limit)
    router.add_put("/_fake/rate-limit", put_rate_limit)
    router.add_post("/_fake/webhooks/flush", flush_webhooks)
    router.add_put("/_fake/webhooks/mode", put_webhook_mode)
    router.add_post("/_fake/webhooks/subscribe", subscribe)
