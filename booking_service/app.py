"""The aiohttp application: routes, middlewares, start-up and shutdown.

POST /api/retell/check-availability       voice agent functions: always 200 + JSON status
POST /api/retell/collect-appointment
POST /api/retell/cancel-appointment
POST /api/retell/reschedule-appointment
POST /api/webhooks/calcom                 Cal.com webhooks (200 / 401 / 400)
GET  /api/appointments[/{id}]             tenant reads (Bearer company key)
GET  /api/customers?search=
POST /api/reconcile
GET  /healthz, GET /metrics
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from booking_service import api
from booking_service.api import CONTEXT
from booking_service.calcom.client import rate_limit_wait_budget
from booking_service.context import ServiceContext, close_context, open_context
from booking_service.db import DATABASE_DOWN
from booking_service.flows.availability import check_availability
from booking_service.flows.booking import collect_appointment
from booking_service.flows.changes import cancel_appointment, reschedule_appointment
from booking_service.flows.webhooks import handle_delivery
from booking_service.json_input import UnreadableJSON, read_json
from booking_service.messages import message
from booking_service.metrics import PROMETHEUS_CONTENT_TYPE
from booking_service.pii import withhold_request_lines
from booking_service.settings import Settings
from booking_service.timing import UpstreamTimer, current_upstream_timer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
#: The share of each Cal.com rate-limit window availability checks leave to bookings.
CHECKS_LEAVE_TO_BOOKINGS = 0.25
SETTINGS = web.AppKey("booking_service_settings", Settings)
Flow = Callable[[ServiceContext, object], Awaitable[dict[str, Any]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _retell_error(reason: str, status: str = "error") -> web.Response:
    return web.json_response(
        {
            "success": False,
            "status": status,
            "reason": reason,
            "message": message(status),
            "alternatives": [],
        }
    )


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`Server-Timing: total;dur=…, calcom;dur=…` — the service's own time is the difference."""
    timer = UpstreamTimer()
    token = current_upstream_timer.set(timer)
    started = time.perf_counter()
    try:
        response = await handler(request)
    finally:
        with contextlib.suppress(ValueError):  # a request abandoned at shutdown ends elsewhere
            current_upstream_timer.reset(token)
    total_ms = (time.perf_counter() - started) * 1000
    if not response.prepared:
        response.headers["Server-Timing"] = (
            f'total;dur={total_ms:.3f}, calcom;dur={timer.seconds * 1000:.3f};desc="{timer.calls} calls"'
        )
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No tracebacks to clients: JSON errors, and the voice endpoints always answer 200."""
    retell = request.path.startswith("/api/retell/")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if retell:
            return _retell_error("request_too_large" if exc.status == 413 else f"http_{exc.status}")
        if exc.content_type == "application/json":
            raise
        return web.json_response(
            {"error": exc.reason.lower().replace(" ", "_"), "message": exc.reason},
            status=exc.status,
            headers={
                k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")
            },
        )
    except sa.exc.TimeoutError:
        # No pooled database connection in time. The voice flows answer this themselves (and
        # settle what a Cal.com write already did); this is the net for everything else.
        log.warning("database busy: no pooled connection for %s %s", request.method, request.path)
        if retell:
            return _retell_error("database_busy")
        return web.json_response(
            {"error": "database_busy", "message": "database busy, try again"},
            status=503,
            headers={"Retry-After": "1"},
        )
    except DATABASE_DOWN as exc:
        # Refused, gone, or silent past the connect/read timeouts: one line per request (an
        # outage must not log a traceback for each of hundreds of callers).
        log.warning("database unavailable for %s %s: %s", request.method, request.path,
                    _first_line(exc))
        if retell:
            return _retell_error("database_unavailable", status="upstream_unavailable")
        return web.json_response(
            {"error": "database_unavailable", "message": "database unavailable, try again later"},
            status=503,
            headers={"Retry-After": "5"},
        )
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        if retell:
            return _retell_error("internal_error")
        return web.json_response(
            {"error": "internal_error", "message": "internal error"}, status=500
        )


def _retell_handler(flow: Flow, *, leave: float = 0.0) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        raw = await request.read()
        try:
            body: object = read_json(raw) if raw.strip() else None
        except UnreadableJSON:
            return _retell_error("invalid_json")
        # A caller is on the phone. Cal.com blocks a key for 60 s once its limit is exceeded;
        # waiting that out means a minute of silence on the line, with the slot lock held so
        # that every other caller for the slot times out on it (race_condition_detected). So a
        # voice request waits only for a window about to reset (caller_rate_limit_wait_s in all),
        # before it takes the slot lock where it can, and otherwise answers rate_limited at once:
        # the agent can say "busy, one moment" and ask again, and the lock is free for the
        # others. Only a definite 429 (Cal.com did not book) is answered so; a 429 after an
        # unclear create is still an unknown outcome. A caller who is only asking leaves part of
        # each window (`leave`) to callers who have chosen their slot and are booking it.
        with rate_limit_wait_budget(ctx.settings.caller_rate_limit_wait_s, leave=leave):
            return web.json_response(await flow(ctx, body))

    return handle


async def webhook(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    raw = await request.read()
    result = await handle_delivery(ctx, raw, request.headers.get("X-Cal-Signature-256"))
    return web.json_response(result.body(), status=result.http_status)


async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    try:
        async with ctx.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
    except DATABASE_DOWN as exc:
        log.warning("health check: database unavailable: %s", _first_line(exc))
        return web.json_response(
            {"status": "error", "database": ctx.database, "error": "database_unavailable"},
            status=503,
        )
    return web.json_response(
        {"status": "ok", "database": ctx.database, "calcom_circuit": ctx.calcom.circuit.state}
    )


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = ctx.metrics.render()
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ctx = await open_context(app[SETTINGS])
    app[CONTEXT] = ctx
    try:
        yield
    finally:
        await close_context(ctx)


class AccessLogger(AbstractAccessLogger):
    """Access log without query strings: `GET /api/customers?search=…` would log a caller's phone
    number or e-mail address (URL-encoded, past the redaction of plain forms)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


def create_app(settings: Settings | None = None) -> web.Application:
    """The booking service as an aiohttp application (connects and migrates on start-up)."""
    withhold_request_lines()
    app = web.Application(
        middlewares=[timing_middleware, error_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[SETTINGS] = settings or Settings()
    app.cleanup_ctx.append(_lifecycle)
    app.router.add_post(
        "/api/retell/check-availability",
        _retell_handler(check_availability, leave=CHECKS_LEAVE_TO_BOOKINGS),
    )
    app.router.add_post("/api/retell/collect-appointment", _retell_handler(collect_appointment))
    app.router.add_post("/api/retell/cancel-appointment", _retell_handler(cancel_appointment))
    app.router.add_post(
        "/api/retell/reschedule-appointment", _retell_handler(reschedule_appointment)
    )
    app.router.add_post("/api/webhooks/calcom", webhook)
    app.router.add_get("/api/appointments", api.list_appointments)
    app.router.add_get("/api/appointments/{id}", api.get_appointment)
    app.router.add_get("/api/customers", api.search_customers)
    app.router.add_post("/api/reconcile", api.run_reconcile)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if app[SETTINGS].test_control_token:
        from booking_service import test_control

        test_control.enable(app, app[SETTINGS])
    return app


def context_of(app: web.Application) -> ServiceContext:
    """The running service's context (for the embedded harness: DB engine, metrics, tenants)."""
    return app[CONTEXT]
