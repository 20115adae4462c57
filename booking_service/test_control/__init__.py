"""The test-control protocol, version 1 (docs/contracts.md §4): off unless a token is set.

A small, versioned set of endpoints under `/_test/` that lets a harness drive the service the
way a deep scenario needs — switch a defense, move the service's clock, arm a failpoint, read
what the service believes, wipe it between scenarios — over HTTP, so the same scenarios run
against this service in the harness's process, in its own process, or on staging. Any booking
service may implement it to unlock the deep scenarios; every request needs
`Authorization: Bearer <token>`. Never enable it in production: it can wipe the database.

    GET    /_test                    protocol, capabilities, defenses, failpoints, settings, tenants
    POST   /_test/reset              {"defenses_off": [...]}: wipe data, caches, failpoints, clock
    PUT    /_test/defenses           {"off": [...]}: all on except these
    GET    /_test/clock              POST {"freeze": true|ISO, "advance_s", "unfreeze", "reset", "peer"}
    GET    /_test/failpoints         DELETE: disarm all
    PUT    /_test/failpoints/{name}  a directive (failpoints.py); DELETE: disarm one
    GET    /_test/state[?rows=1]     appointments, audit log, processed webhooks, row counts
    PATCH  /_test/settings           {"calcom_timeout_s": 0.25, …}: policy knobs
    GET    /_test/logs?since=N       the service's log lines after N
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from booking_service import defenses
from booking_service.api import CONTEXT
from booking_service.clock import RealClock
from booking_service.context import ServiceContext
from booking_service.settings import Defenses, Settings
from booking_service.tenants import load_tenants
from booking_service.test_control.clock import ControlledClock
from booking_service.test_control.failpoints import (
    FAILPOINT_NAMES,
    FailpointError,
    Failpoints,
    InjectedCrash,
)
from booking_service.test_control.logs import LogBuffer
from booking_service.test_control.state import service_state, wipe_data

PROTOCOL = "calharness-test-control"
VERSION = 1
CAPABILITIES = ("reset", "defenses", "clock", "failpoints", "state", "settings", "logs")
WEBHOOK_PATH = "/api/webhooks/calcom"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _calcom_timeout(ctx: ServiceContext, value: float | None) -> float:
    if value is not None:
        ctx.calcom.timeout_s = value
    return float(ctx.calcom.timeout_s)


def _setting(name: str) -> Callable[[ServiceContext, float | None], float]:
    def knob(ctx: ServiceContext, value: float | None) -> float:
        if value is not None:
            setattr(ctx.settings, name, value)
            if name == "slot_lock_timeout_s" and hasattr(ctx.slot_locks, "timeout_s"):
                ctx.slot_locks.timeout_s = value
        return float(getattr(ctx.settings, name))
    return knob


#: The policy knobs a scenario may change for its duration (reset restores them).
KNOBS: dict[str, Callable[[ServiceContext, float | None], float]] = {
    "calcom_timeout_s": _calcom_timeout,
    "caller_rate_limit_wait_s": _setting("caller_rate_limit_wait_s"),
    "slot_lock_timeout_s": _setting("slot_lock_timeout_s"),
}


@dataclass
class TestControl:
    token: str
    clock: Any
    failpoints: Failpoints
    logs: LogBuffer = field(default_factory=LogBuffer)
    initial: dict[str, float] = field(default_factory=dict)
    initial_defenses: Defenses = field(default_factory=Defenses)


TEST_CONTROL = web.AppKey("booking_service_test_control", TestControl)


def enable(app: web.Application, settings: Settings) -> None:
    """Install the endpoints on `app` (called by `create_app` when a token is set). The service's
    clock becomes controllable and its failpoints armable."""
    assert settings.test_control_token
    if isinstance(settings.clock, RealClock):
        settings.clock = ControlledClock()
    clock = settings.clock
    for method in ("freeze", "advance", "unfreeze", "reset", "describe"):
        if not callable(getattr(clock, method, None)):
            raise ValueError(f"test control needs a controllable clock (it lacks {method}())")
    hooks: dict[str, Any] = {}
    if settings.failpoints:
        hooks.update(settings.failpoints)
    settings.failpoints = hooks
    control = TestControl(token=settings.test_control_token, clock=clock,
                          failpoints=Failpoints(hooks), initial_defenses=settings.defenses)
    app[TEST_CONTROL] = control
    app.middlewares.append(_guard)
    app.cleanup_ctx.append(_lifecycle)
    routes = app.router
    routes.add_get("/_test", describe)
    routes.add_post("/_test/reset", reset)
    routes.add_put("/_test/defenses", put_defenses)
    routes.add_get("/_test/clock", get_clock)
    routes.add_post("/_test/clock", post_clock)
    routes.add_get("/_test/failpoints", get_failpoints)
    routes.add_delete("/_test/failpoints", clear_failpoints)
    routes.add_put("/_test/failpoints/{name}", put_failpoint)
    routes.add_delete("/_test/failpoints/{name}", delete_failpoint)
    routes.add_get("/_test/state", get_state)
    routes.add_patch("/_test/settings", patch_settings)
    routes.add_get("/_test/logs", get_logs)


async def _lifecycle(app: web.Application) -> Any:
    control = app[TEST_CONTROL]
    control.logs.attach()
    ctx = app[CONTEXT]
    control.initial = {name: knob(ctx, None) for name, knob in KNOBS.items()}
    try:
        yield
    finally:
        control.logs.detach()


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != "/_test" and not request.path.startswith("/_test/"):
        return await handler(request)
    expected = request.app[TEST_CONTROL].token.encode()
    header = request.headers.get("Authorization", "")
    # Only the Bearer scheme counts: a bare token (or another scheme) is refused (contract §4).
    given = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    try:
        allowed = hmac.compare_digest(given.encode("ascii"), expected)
    except UnicodeEncodeError:
        allowed = False
    if not allowed:
        return web.json_response({"error": "test control needs 'Authorization: Bearer <token>'"},
                                 status=401)
    try:
        return await handler(request)
    except _Refused as refused:
        return web.json_response({"error": refused.message}, status=refused.status)
    except (FailpointError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)


async def _body(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    raw = await request.read()
    try:
        document = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise _Refused(400, "the body is not JSON") from None
    if not isinstance(document, dict):
        raise _Refused(400, "the body must be a JSON object")
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise _Refused(400, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    return document


def _defenses_off(value: Any) -> Defenses:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise _Refused(400, "defenses off must be a list of defense names")
    return Defenses.with_off(value)


def _tenants(app: web.Application) -> list[dict[str, Any]]:
    """The tenants with their database ids and keys (what a scenario needs to act as one)."""
    ctx = app[CONTEXT]
    doc = load_tenants(ctx.settings.tenants)
    ids = {c.name: c.id for c in ctx.tenants.companies}
    return [{"id": ids.get(c["name"]), "name": c["name"], "api_key": c["api_key"],
             "fallback_email": c.get("fallback_email"),
             "calcom_api_key": c.get("calcom_api_key") or ctx.settings.calcom_api_key,
             "phones": [b["phone"] for b in c.get("branches", []) if b.get("phone")],
             "branch_ids": [str(b["id"]) for b in c.get("branches", []) if b.get("id")]}
            for c in doc["companies"]]


async def describe(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    return web.json_response({
        "protocol": PROTOCOL, "version": VERSION, "capabilities": list(CAPABILITIES),
        "defenses": defenses.switched(ctx), "failpoints": list(FAILPOINT_NAMES),
        "settings": {name: knob(ctx, None) for name, knob in KNOBS.items()},
        "database": ctx.database, "tenants": _tenants(request.app),
        "webhooks": {"path": WEBHOOK_PATH, "secret": ctx.settings.webhook_secret},
    })


async def reset(request: web.Request) -> web.Response:
    """A clean slate: data wiped (tenants kept), defenses as asked (default: as started), the
    Cal.com client's circuit and rate-limit windows and the event-type cache forgotten,
    failpoints disarmed, knobs restored, the clock real and unlinked."""
    body = await _body(request, {"defenses_off"})
    control = request.app[TEST_CONTROL]
    ctx = request.app[CONTEXT]
    wanted = (_defenses_off(body["defenses_off"]) if "defenses_off" in body
              else control.initial_defenses)
    control.failpoints.clear()
    control.clock.reset()
    for name, value in control.initial.items():
        KNOBS[name](ctx, value)
    await wipe_data(ctx)
    await defenses.switch_running(ctx, wanted)
    ctx.calcom.reset()
    ctx.event_types.clear()
    return web.json_response({"reset": True, "defenses": defenses.switched(ctx)})


async def put_defenses(request: web.Request) -> web.Response:
    body = await _body(request, {"off"})
    ctx = request.app[CONTEXT]
    await defenses.switch_running(ctx, _defenses_off(body.get("off", [])))
    return web.json_response({"defenses": defenses.switched(ctx)})


async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(request.app[TEST_CONTROL].clock.describe())


async def post_clock(request: web.Request) -> web.Response:
    body = await _body(request, {"freeze", "advance_s", "unfreeze", "reset", "peer"})
    clock = request.app[TEST_CONTROL].clock
    if body.get("reset"):
        clock.reset()
    if "peer" in body:
        peer = body["peer"]
        if peer is not None and not (isinstance(peer, str)
                                     and peer.startswith(("http://", "https://"))):
            raise _Refused(400, "peer must be an http(s) URL of a clock endpoint, or null")
        clock.peer = peer
    if "freeze" in body:
        at = body["freeze"]
        if at is True:
            clock.freeze()
        elif isinstance(at, str):
            try:
                instant = datetime.fromisoformat(at.replace("Z", "+00:00"))
            except ValueError:
                raise _Refused(400, f"freeze: {at!r} is not an ISO-8601 time") from None
            if instant.tzinfo is None:
                raise _Refused(400, "freeze: the time needs a zone (…Z)")
            clock.freeze(instant)
        else:
            raise _Refused(400, "freeze: true or an ISO-8601 time")
    if "advance_s" in body:
        seconds = body["advance_s"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise _Refused(400, "advance_s must be a number")
        clock.advance(float(seconds))
    if body.get("unfreeze"):
        clock.unfreeze()
    return web.json_response(clock.describe())


async def get_failpoints(request: web.Request) -> web.Response:
    return web.json_response({"failpoints": request.app[TEST_CONTROL].failpoints.describe()})


async def clear_failpoints(request: web.Request) -> web.Response:
    request.app[TEST_CONTROL].failpoints.clear()
    return web.json_response({"failpoints": {}})


async def put_failpoint(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        document = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise _Refused(400, "the body is not JSON") from None
    point = request.app[TEST_CONTROL].failpoints.arm(request.match_info["name"], document)
    return web.json_response({"name": point.name, **point.describe()})


async def delete_failpoint(request: web.Request) -> web.Response:
    request.app[TEST_CONTROL].failpoints.disarm(request.match_info["name"])
    return web.json_response({"failpoints": request.app[TEST_CONTROL].failpoints.describe()})


async def get_state(request: web.Request) -> web.Response:
    rows = request.query.get("rows") in ("1", "true")
    return web.json_response(await service_state(request.app[CONTEXT], rows=rows))


async def patch_settings(request: web.Request) -> web.Response:
    body = await _body(request, set(KNOBS))
    ctx = request.app[CONTEXT]
    for name, value in body.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise _Refused(400, f"{name} must be a positive number")
    for name, value in body.items():
        KNOBS[name](ctx, float(value))
    return web.json_response({"settings": {name: knob(ctx, None) for name, knob in KNOBS.items()}})


async def get_logs(request: web.Request) -> web.Response:
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        raise _Refused(400, "since must be an integer") from None
    return web.json_response(request.app[TEST_CONTROL].logs.since(since))


__all__ = ["PROTOCOL", "TEST_CONTROL", "VERSION", "InjectedCrash", "TestControl", "enable"]
