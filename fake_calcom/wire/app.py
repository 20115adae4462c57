"""`create_app(config)`: the aiohttp application speaking Cal.com API v2, plus `/_fake/…`.

One middleware does, in order, for every `/v2/…` request: rate limit (per key, virtual clock),
body size limit and read, fault selection (pre actions, a terminal answer), the handler (version
routing happens there), post actions on the real response, headers (rate limit, Date from the
virtual clock), stats and the journal. Any error becomes a Cal.com-shaped answer; nothing ever
answers a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter
from typing import Any, cast

from aiohttp import web

from fake_calcom.backend.errors import CalcomError
from fake_calcom.backend.faults import Fault, RequestView
from fake_calcom.backend.ratelimit import tracker_for
from fake_calcom.backend.timefmt import iso_ms
from fake_calcom.wire import (
    bookings,
    control,
    event_types,
    me,
    platform,
    reservations,
    slots,
    webhooks_api,
)
from fake_calcom.wire.common import CTX_KEY, STATE_KEY, Answer, Ctx
from fake_calcom.wire.control import ControlError
from fake_calcom.wire.delivery import DeliveryWorker
from fake_calcom.wire.errors import THROTTLED_MESSAGE, bare, envelope, render_error
from fake_calcom.wire.fault_actions import (
    MALFORMED_BODY,
    hang,
    latency_seconds,
    reset_connection,
    rewrite,
    send_truncated,
    slot_steal,
    stale_replay,
    status_answer,
)
from fake_calcom.wire.state import FakeConfig, FakeState

log = logging.getLogger("fake_calcom")

Handler = Callable[[web.Request], Awaitable[Any]]
JSON_TYPE = "application/json; charset=utf-8"


def _not_found(method: str, path: str, path_qs: str, state: FakeState) -> Answer:
    message = f"Cannot {method} {path}"
    return Answer(404, envelope(404, message, path_qs, state.clock.now()))


async def _handle_v2(request: web.Request, handler: Handler, state: FakeState, ctx: Ctx) -> tuple[Any, dict[str, str]]:
    """Returns (Answer | a finished StreamResponse, extra headers)."""
    headers: dict[str, str] = {}
    limiter = state.limiter
    if limiter.enabled:
        decision = limiter.hit(tracker_for(request.headers.get("Authorization"), request.remote))
        headers = decision.headers()
        if not decision.allowed:
            return Answer(429, envelope(429, THROTTLED_MESSAGE, request.path_qs, state.clock.now())), headers

    if request.body_exists:
        length = request.content_length
        limit = state.config.max_body_bytes
        if length is not None and length > limit:
            return _too_large(request, state), headers
        try:
            ctx.raw_body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request, state), headers
        ctx.has_body = True

    post: list[Fault] = []
    if state.faults:
        terminal_answer, post = await _apply_request_faults(request, state, ctx)
        if terminal_answer is not None:
            return terminal_answer, headers

    try:
        if request.match_info.http_exception is not None:
            answer: Any = _not_found(request.method, request.path, request.path_qs, state)
        else:
            answer = await handler(request)
    except CalcomError as error:
        body = render_error(error, request.path_qs, state.clock.now(), legacy=ctx.legacy_errors)
        answer = Answer(error.status, body)
    except web.HTTPNotFound:
        answer = _not_found(request.method, request.path, request.path_qs, state)

    if post:
        answer = await _apply_post_faults(request, state, ctx, answer, post, headers)
    return answer, headers


def _too_large(request: web.Request, state: FakeState) -> Answer:
    return Answer(413, envelope(413, "request entity too large", request.path_qs, state.clock.now()))


async def _apply_request_faults(request: web.Request, state: FakeState, ctx: Ctx) -> tuple[Any, list[Fault]]:
    plan = state.faults
    body = ctx.json_or_none() if plan.needs_body() else None
    view = RequestView(request.method, request.path, ctx.version, body, dict(request.query))
    fired = plan.select(view)
    if not fired:
        return None, []
    post: list[Fault] = []
    terminal: list[Fault] = []
    for fault in fired:
        stage = fault.stage()
        if stage == "pre":
            await _apply_pre(request, state, ctx, fault)
        elif stage == "terminal":
            terminal.append(fault)
        elif stage == "post":
            post.append(fault)
    for fault in terminal:
        answer = await _apply_terminal(request, state, ctx, fault)
        if answer is not None:
            return answer, []
    return None, post


async def _apply_pre(request: web.Request, state: FakeState, ctx: Ctx, fault: Fault) -> None:
    kind = fault.kind
    if kind == "latency":
        fault.fired += 1
        ctx.fired.append(fault.name)
        await asyncio.sleep(latency_seconds(fault))  # real wall time, never the virtual clock
    elif kind == "slot_steal":
        if slot_steal(fault, state, ctx, request.method, request.path, request.match_info.get("uid")):
            fault.fired += 1
            ctx.fired.append(fault.name)
    elif kind == "overbook":
        ctx.overbook = fault  # counted as fired by the create/reschedule that uses it
        ctx.fired.append(fault.name)
    elif kind == "reservation_expire_early":
        ctx.expire_early = fault  # counted as fired by the reservation it shortens
    elif kind == "reservation_taken":
        ctx.reserve_taken = fault  # counted as fired when the slot is taken under the reservation
    elif kind == "cancel_race":
        ctx.cancel_race = fault  # counted as fired when the cancel lands
    elif kind == "barrier" and request.method == "POST" and request.path.rstrip("/") == "/v2/bookings":
        ctx.barrier = fault  # counted as fired when the create is parked
        ctx.fired.append(fault.name)


async def _apply_terminal(request: web.Request, state: FakeState, ctx: Ctx, fault: Fault) -> Any:
    kind = fault.kind
    if kind == "stale_replay":
        answer = stale_replay(fault, state, ctx, request.method, request.path)
        if answer is None:
            return None  # nothing to replay: matched, not fired; the request proceeds
    elif kind == "status":
        answer = status_answer(fault, state, request.path_qs)
    elif kind == "hang":
        fault.fired += 1
        ctx.fired.append(fault.name)
        await hang(request, state, float(fault.action.get("max_ms", 300_000)))
        return _dropped(request)
    else:  # reset
        fault.fired += 1
        ctx.fired.append(fault.name)
        reset_connection(request)
        return _dropped(request)
    fault.fired += 1
    ctx.fired.append(fault.name)
    return answer


def _dropped(request: web.Request) -> web.Response:
    """What the handler returns after the connection was given up (nothing reaches the client)."""
    transport = request.transport
    if transport is not None and not transport.is_closing():
        transport.close()
    response = web.Response(status=499)
    response.force_close()
    return response


async def _apply_post_faults(
    request: web.Request, state: FakeState, ctx: Ctx, answer: Any, post: list[Fault], headers: dict[str, str]
) -> Any:
    if not isinstance(answer, Answer):
        return answer
    mode: Fault | None = None
    for fault in post:
        kind = fault.kind
        if kind in ("hang", "reset", "truncate"):
            if mode is not None:
                continue
            mode = fault
        elif kind == "status":
            answer = status_answer(fault, state, request.path_qs)
        elif kind == "rewrite":
            rewrite(answer, fault.action["set"])
        elif kind == "malformed":
            answer.payload, answer.body = None, MALFORMED_BODY
        elif kind == "empty":
            answer.payload, answer.body = None, b""
        fault.fired += 1
        ctx.fired.append(fault.name)
    if mode is None:
        return answer
    if mode.kind == "truncate":
        ctx.shown = answer
        response_headers = {**headers, **answer.headers, "Date": state_date(state)}
        return await send_truncated(request, answer, mode.action.get("keep_bytes"), response_headers)
    ctx.shown = answer
    if mode.kind == "hang":
        await hang(request, state, float(mode.action.get("max_ms", 300_000)))
    else:
        reset_connection(request)
    return _dropped(request)


def state_date(state: FakeState) -> str:
    return state.http_date()


@web.middleware
async def calcom_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path.startswith("/_fake/"):
        return await _control(request, handler)
    state = request.app[STATE_KEY]
    if not path.startswith("/v2/"):
        answer = _not_found(request.method, path, request.path_qs, state)
        return _to_response(answer, {}, state)
    started = perf_counter()
    ctx = Ctx(version=request.headers.get("cal-api-version"))
    request[CTX_KEY] = ctx
    extra: dict[str, str] = {}
    try:
        answer, extra = await _handle_v2(request, handler, state, ctx)
    except Exception:  # the fake must never answer a traceback
        log.exception("unexpected error while handling %s %s", request.method, request.path_qs)
        answer = Answer(500, bare(500, "Internal server error"))
    if isinstance(answer, Answer):
        response: web.StreamResponse = _to_response(answer, extra, state)
        status, response_body = answer.status, answer.body
    else:
        response = answer
        status = response.status
        response_body = ctx.shown.encoded() if ctx.shown is not None else None
    route = request.match_info.route.resource
    state.stats.count(request.method, route.canonical if route is not None else request.path, status)
    if state.journal.enabled:
        state.journal.record(
            at=iso_ms(state.clock.now()),
            method=request.method,
            path=request.path_qs,
            api_version=ctx.version,
            status=status,
            latency_ms=(perf_counter() - started) * 1000,
            faults=list(ctx.fired),
            request_body=ctx.raw_body or None,
            response_body=response_body,
        )
    return response


def _to_response(answer: Answer, extra: dict[str, str], state: FakeState) -> web.Response:
    headers = {**extra, **answer.headers, "Date": state_date(state)} if extra or answer.headers else {"Date": state_date(state)}
    content_type = JSON_TYPE if answer.content_type == "application/json" else answer.content_type
    headers["Content-Type"] = content_type
    return web.Response(body=answer.encoded(), status=answer.status, headers=headers)


async def _control(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.match_info.http_exception is not None:
            return web.json_response(
                {"error": f"unknown control-plane endpoint {request.method} {request.path}"}, status=404
            )
        return await handler(request)
    except ControlError as error:
        return web.json_response({"error": error.message}, status=error.status)
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"error": "request entity too large"}, status=413)
    except Exception as error:
        log.exception("control plane error on %s %s", request.method, request.path)
        return web.json_response({"error": f"internal error: {type(error).__name__}"}, status=500)


AnswerHandler = Callable[[web.Request], Awaitable[Answer]]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answering(handler: AnswerHandler) -> RouteHandler:
    """An API handler as aiohttp's router types it. It returns an `Answer`, which
    `calcom_middleware` turns into the response (after faults, headers, stats and the journal):
    aiohttp itself never sees the Answer, so the route table may take the handler as it is."""
    return cast(RouteHandler, handler)


def _add_api_routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/v2/bookings", _answering(bookings.create_booking))
    router.add_get("/v2/bookings", _answering(bookings.list_bookings))
    router.add_get("/v2/bookings/{uid}", _answering(bookings.get_booking))
    router.add_post("/v2/bookings/{uid}/cancel", _answering(bookings.cancel_booking))
    router.add_post("/v2/bookings/{uid}/reschedule", _answering(bookings.reschedule_booking))
    router.add_post("/v2/bookings/{uid}/confirm", _answering(bookings.confirm_booking))
    router.add_post("/v2/bookings/{uid}/decline", _answering(bookings.decline_booking))
    router.add_get("/v2/slots", _answering(slots.get_slots))
    router.add_get("/v2/slots/available", _answering(slots.get_available_slots))
    router.add_post("/v2/slots/reservations", _answering(reservations.create_reservation))
    router.add_get("/v2/slots/reservations/{uid}", _answering(reservations.get_reservation))
    router.add_patch("/v2/slots/reservations/{uid}", _answering(reservations.update_reservation))
    router.add_delete("/v2/slots/reservations/{uid}", _answering(reservations.delete_reservation))
    router.add_post("/v2/slots/reserve", _answering(reservations.reserve_legacy))
    router.add_delete("/v2/slots/selected-slot", _answering(reservations.delete_selected_slot))
    router.add_get("/v2/event-types", _answering(event_types.list_event_types))
    router.add_get("/v2/event-types/{event_type_id}", _answering(event_types.get_event_type))
    router.add_get("/v2/me", _answering(me.get_me))
    router.add_patch("/v2/me", _answering(me.update_me))
    router.add_get("/v2/provider/{client_id}", _answering(platform.get_provider))
    router.add_get("/v2/provider/{client_id}/access-token", _answering(platform.verify_access_token))
    router.add_get("/v2/schedules", _answering(platform.list_schedules))
    router.add_get("/v2/schedules/default", _answering(platform.default_schedule))
    router.add_get("/v2/teams/{team_id}/event-types", _answering(platform.team_event_types))
    router.add_post("/v2/webhooks", _answering(webhooks_api.create_webhook))
    router.add_get("/v2/webhooks", _answering(webhooks_api.list_webhooks))
    router.add_get("/v2/webhooks/{webhook_id}", _answering(webhooks_api.get_webhook))
    router.add_patch("/v2/webhooks/{webhook_id}", _answering(webhooks_api.update_webhook))
    router.add_delete("/v2/webhooks/{webhook_id}", _answering(webhooks_api.delete_webhook))


async def _delivery_worker(app: web.Application) -> AsyncIterator[None]:
    """The webhook delivery worker runs from start-up to cleanup (`app.cleanup_ctx`)."""
    state = app[STATE_KEY]
    state.delivery = DeliveryWorker(state)
    await state.delivery.start()
    try:
        yield
    finally:
        await state.delivery.stop()


async def _shutdown(app: web.Application) -> None:
    """Let parked requests go. An `on_shutdown` hook, not part of the cleanup context: aiohttp
    runs it before it waits for in-flight handlers, and a hung or barrier-parked create would
    otherwise hold shutdown for the whole shutdown timeout."""
    state = app[STATE_KEY]
    state.shutdown.set()
    state.barriers.release_all()


def create_app(config: FakeConfig | None = None) -> web.Application:
    """A fresh fake Cal.com application (its state is `app[STATE_KEY]`)."""
    config = config or FakeConfig()
    state = FakeState(config)
    # aiohttp enforces client_max_size when the body is read; +1 so exactly the limit passes.
    app = web.Application(middlewares=[calcom_middleware], client_max_size=config.max_body_bytes + 1)
    app[STATE_KEY] = state
    _add_api_routes(app)
    control.add_routes(app)
    app.cleanup_ctx.append(_delivery_worker)
    app.on_shutdown.append(_shutdown)
    return app
