"""The test-control protocol of the reference service (docs/contracts.md §4), over real HTTP.

Each test runs the fake Cal.com and the service (with a token): what touches the data on every
database of the run (`stack`, from `make_stack`), what is the HTTP layer alone on SQLite
(`http_stack`). The service's own clock is a `ControlledClock` frozen at the stack's NOW, so the
slot S is bookable and the harness moves the service's time through `/_test/clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from service_stack import NOW, S_ISO, WEBHOOK_SECRET, Stack, StackFactory, open_stack

from booking_service import cli
from booking_service.app import SETTINGS
from booking_service.defenses import DEFENSE_NAMES
from booking_service.models import Base
from booking_service.test_control import TEST_CONTROL
from booking_service.test_control.clock import ControlledClock

TOKEN = "tc-token-for-tests"
DENIED = {"error": "test control needs 'Authorization: Bearer <token>'"}
FAILPOINTS = ["collect.after_double_check", "collect.before_insert", "webhook.before_insert",
              "reconcile.before_insert", "cancel.before_upstream"]
KNOBS = {"calcom_timeout_s": 5.0, "caller_rate_limit_wait_s": 5.0, "slot_lock_timeout_s": 30.0}
NOW_ISO = "2026-01-05T07:00:00.000Z"
TENANT_TABLES = {"companies", "branches", "services"}


def frozen_clock() -> ControlledClock:
    clock = ControlledClock()
    clock.freeze(NOW)
    return clock


def controlled(factory: StackFactory) -> contextlib.AbstractAsyncContextManager[Stack]:
    # No webhook subscription: nothing writes behind a test's back (state snapshots are exact).
    return factory(test_control_token=TOKEN, clock=frozen_clock(), webhooks=False)


@pytest.fixture
async def stack(make_stack: StackFactory) -> AsyncIterator[Stack]:
    """On every database of the run (what touches the data: reset, state, the flows)."""
    async with controlled(make_stack) as opened:
        yield opened


@pytest.fixture
async def http_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """On SQLite only: for what is the protocol's HTTP layer alone (auth, refusals, the clock)."""
    async with controlled(functools.partial(open_stack, f"sqlite:///{tmp_path}/tc.db")) as opened:
        yield opened


async def tc(stack: Stack, method: str, path: str, body: Any = None, *,
             headers: dict[str, str] | None = None, raw: bytes | None = None,
             params: dict[str, str] | None = None) -> tuple[int, Any]:
    """One test-control request (with the token unless `headers` says otherwise)."""
    sent = {"Authorization": f"Bearer {TOKEN}"} if headers is None else headers
    kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
    async with stack.http.request(method, stack.url + path, headers=sent, params=params,
                                  **kwargs) as response:
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, await response.text()


async def book(stack: Stack, call_id: str, uhrzeit: str = "14:00") -> dict[str, Any]:
    return await stack.collect(call_id, uhrzeit=uhrzeit)


# -- on, off, and who may use it --------------------------------------------------------------------


async def test_off_by_default(make_stack: StackFactory) -> None:
    async with make_stack() as plain:
        for method, path in (("GET", "/_test"), ("POST", "/_test/reset"),
                             ("GET", "/_test/state"), ("PUT", "/_test/failpoints/x")):
            status, _ = await tc(plain, method, path, {})
            assert (method, path, status) == (method, path, 404)
        assert TEST_CONTROL not in plain.service.app


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer not-the-token",
    "Bearer " + TOKEN + "x",
    "Bearer tökén",
    "Basic " + TOKEN,
    TOKEN,  # the token without the Bearer scheme
    "Bearer",
], ids=["none", "wrong", "longer", "non-ascii", "basic", "no-scheme", "scheme-only"])
async def test_every_request_needs_the_bearer_token(http_stack: Stack,
                                                    authorization: str | None) -> None:
    booked = await book(http_stack, "call_keep")
    assert booked["status"] == "booked", booked
    headers = {} if authorization is None else {"Authorization": authorization}

    for method, path in (("GET", "/_test"), ("POST", "/_test/reset"), ("GET", "/_test/logs")):
        assert await tc(http_stack, method, path, {}, headers=headers) == (401, DENIED)
    # The refused reset wiped nothing.
    assert [a.call_id for a in await http_stack.appointments()] == ["call_keep"]


async def test_describe_names_the_protocol_and_what_the_service_has(stack: Stack) -> None:
    status, described = await tc(stack, "GET", "/_test")

    assert status == 200
    ids = {c.name: c.id for c in stack.ctx.tenants.companies}
    assert described == {
        "protocol": "calharness-test-control", "version": 1,
        "capabilities": ["reset", "defenses", "clock", "failpoints", "state", "settings", "logs"],
        "defenses": dict.fromkeys(DEFENSE_NAMES, True),
        "failpoints": FAILPOINTS,
        "settings": KNOBS,
        "database": stack.ctx.database,
        "tenants": [
            {"id": ids["Praxis Berlin"], "name": "Praxis Berlin", "api_key": "bs_demo_berlin",
             "fallback_email": "termin@praxis-berlin.example",
             "calcom_api_key": "cal_live_calharness_anna", "phones": ["+4930123456"],
             "branch_ids": ["6f1c2b0e-3d4a-4c59-9e8f-0a1b2c3d4e5f"]},
            {"id": ids["Praxis Hamburg"], "name": "Praxis Hamburg", "api_key": "bs_demo_hamburg",
             "fallback_email": "termin@praxis-hamburg.example",
             "calcom_api_key": "cal_live_calharness_clara", "phones": ["+4940987654"],
             "branch_ids": ["0b7e9a51-8c2d-4f3e-a6b1-5d4c3b2a1f00"]},
        ],
        "webhooks": {"path": "/api/webhooks/calcom", "secret": WEBHOOK_SECRET},
    }
    assert described["database"] in ("sqlite", "mariadb", "postgresql")


def test_the_serve_command_turns_it_on_by_flag_or_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    captured: dict[str, Any] = {}
    monkeypatch.setattr(cli.web, "run_app", lambda app, **kwargs: captured.update(app=app))
    monkeypatch.delenv("BOOKING_TEST_CONTROL_TOKEN", raising=False)
    database = ["--database-url", f"sqlite:///{tmp_path}/serve.db"]

    assert cli.main(["serve", *database]) == 0
    assert captured["app"][SETTINGS].test_control_token is None
    assert TEST_CONTROL not in captured["app"]

    assert cli.main(["serve", *database, "--test-control-token", "from-flag"]) == 0
    assert captured["app"][TEST_CONTROL].token == "from-flag"

    monkeypatch.setenv("BOOKING_TEST_CONTROL_TOKEN", "from-env")
    assert cli.main(["serve", *database]) == 0
    assert captured["app"][TEST_CONTROL].token == "from-env"


# -- reset ----------------------------------------------------------------------------------------


async def test_reset_wipes_the_data_and_restores_everything_else(stack: Stack) -> None:
    booked = await book(stack, "call_before_reset")
    assert booked["status"] == "booked", booked
    assert (await tc(stack, "PUT", "/_test/defenses", {"off": ["freshness"]}))[0] == 200
    assert (await tc(stack, "PUT", "/_test/failpoints/collect.before_insert",
                     {"action": "crash"}))[0] == 200
    assert (await tc(stack, "PATCH", "/_test/settings",
                     {"calcom_timeout_s": 0.5, "slot_lock_timeout_s": 2}))[0] == 200
    assert (await tc(stack, "POST", "/_test/clock",
                     {"advance_s": 3600, "peer": stack.fake.url + "/_fake/clock"}))[0] == 200
    before = (await tc(stack, "GET", "/_test/state"))[1]["tables"]
    assert (before["appointments"], before["calls"]) == (1, 1)
    assert before["audit_log"] >= 1

    status, answer = await tc(stack, "POST", "/_test/reset", {"defenses_off": ["slot_lock"]})

    assert status == 200
    assert answer == {"reset": True,
                      "defenses": {n: n != "slot_lock" for n in DEFENSE_NAMES}}
    state = (await tc(stack, "GET", "/_test/state"))[1]
    assert (state["appointments"], state["audit_log"], state["processed_webhooks"]) == ([], [], [])
    assert {t: n for t, n in state["tables"].items() if n} == {
        t: before[t] for t in TENANT_TABLES}  # the tenants stay, nothing else does
    described = (await tc(stack, "GET", "/_test"))[1]
    assert described["settings"] == KNOBS
    assert described["defenses"] == answer["defenses"]
    assert stack.ctx.settings.defenses.slot_lock is False
    assert (await tc(stack, "GET", "/_test/failpoints"))[1] == {"failpoints": {}}
    assert dict(stack.ctx.settings.failpoints or {}) == {}
    clock = (await tc(stack, "GET", "/_test/clock"))[1]
    assert (clock["frozen"], clock["peer"]) == (False, None)
    assert abs(clock["offset_s"]) < 1.0  # real time again (the hour forward is gone)
    assert stack.ctx.calcom.timeout_s == 5.0

    # Without defenses_off: the defenses the service started with (all on).
    assert (await tc(stack, "POST", "/_test/reset"))[1]["defenses"] == dict.fromkeys(
        DEFENSE_NAMES, True)


async def test_a_reset_with_an_unknown_defense_is_refused_and_wipes_nothing(stack: Stack) -> None:
    await book(stack, "call_survives")

    status, answer = await tc(stack, "POST", "/_test/reset", {"defenses_off": ["nosuch"]})

    assert status == 400
    assert answer == {"error": "unknown defense name(s): nosuch; known: "
                      + ", ".join(DEFENSE_NAMES)}
    assert [a.call_id for a in await stack.appointments()] == ["call_survives"]


# -- refusals ----------------------------------------------------------------------------------------

BAD_REQUESTS = [
    ("PUT", "/_test/defenses", {"off": ["nosuch", "freshness"]},
     "unknown defense name(s): nosuch; known: " + ", ".join(DEFENSE_NAMES)),
    ("PUT", "/_test/defenses", {"off": "freshness"}, "defenses off must be a list of defense names"),
    ("PUT", "/_test/defenses", {"on": []}, "unknown field(s) ['on']; allowed: ['off']"),
    ("POST", "/_test/reset", [], "the body must be a JSON object"),
    ("PUT", "/_test/failpoints/collect.nowhere", {"action": "crash"},
     "unknown failpoint 'collect.nowhere'; known: " + ", ".join(FAILPOINTS)),
    ("PUT", "/_test/failpoints/collect.before_insert", {"action": "explode"},
     "a failpoint directive is an object with action one of ('crash', 'call')"),
    ("PUT", "/_test/failpoints/collect.before_insert", None,
     "a failpoint directive is an object with action one of ('crash', 'call')"),
    ("PUT", "/_test/failpoints/collect.before_insert", {"action": "crash", "times": 0},
     "times must be a positive integer"),
    ("PUT", "/_test/failpoints/collect.before_insert", {"action": "crash", "times": True},
     "times must be a positive integer"),
    ("PUT", "/_test/failpoints/collect.before_insert", {"action": "crash", "url": "http://x"},
     "crash: unknown field(s) ['url']"),
    ("PUT", "/_test/failpoints/collect.before_insert", {"action": "call"},
     "call needs an http(s) url"),
    ("PUT", "/_test/failpoints/collect.before_insert", {"action": "call", "url": "file:///x"},
     "call needs an http(s) url"),
    ("PUT", "/_test/failpoints/collect.before_insert",
     {"action": "call", "url": "http://x", "body": [1]}, "call: body must be an object"),
    ("PUT", "/_test/failpoints/collect.before_insert",
     {"action": "call", "url": "http://x", "timeout_s": 0}, "timeout_s must be a positive number"),
    ("PATCH", "/_test/settings", {"calcom_timeout_s": 0}, "calcom_timeout_s must be a positive number"),
    ("PATCH", "/_test/settings", {"slot_lock_timeout_s": -1},
     "slot_lock_timeout_s must be a positive number"),
    ("PATCH", "/_test/settings", {"caller_rate_limit_wait_s": True},
     "caller_rate_limit_wait_s must be a positive number"),
    ("PATCH", "/_test/settings", {"caller_rate_limit_wait_s": "5"},
     "caller_rate_limit_wait_s must be a positive number"),
    ("PATCH", "/_test/settings", {"retry_attempts": 1},
     "unknown field(s) ['retry_attempts']; allowed: " + str(sorted(KNOBS))),
    ("POST", "/_test/clock", {"advance_s": "60"}, "advance_s must be a number"),
    ("POST", "/_test/clock", {"freeze": "yesterday"}, "freeze: 'yesterday' is not an ISO-8601 time"),
    ("POST", "/_test/clock", {"freeze": "2026-01-05T07:00:00"}, "freeze: the time needs a zone (…Z)"),
    ("POST", "/_test/clock", {"freeze": 5}, "freeze: true or an ISO-8601 time"),
    ("POST", "/_test/clock", {"peer": "ftp://fake/_fake/clock"},
     "peer must be an http(s) URL of a clock endpoint, or null"),
]


@pytest.mark.parametrize(("method", "path", "body", "message"), BAD_REQUESTS,
                         ids=[f"{m} {p} {b}" for m, p, b, _ in BAD_REQUESTS])
async def test_bad_input_is_a_400_that_says_why(http_stack: Stack, method: str, path: str,
                                                body: Any, message: str) -> None:
    raw = b"null" if body is None else None
    assert await tc(http_stack, method, path, body, raw=raw) == (400, {"error": message})


async def test_unreadable_bodies_and_queries_are_400s(http_stack: Stack) -> None:
    for method, path in (("POST", "/_test/reset"), ("PUT", "/_test/failpoints/collect.before_insert"),
                         ("PATCH", "/_test/settings"), ("POST", "/_test/clock")):
        assert await tc(http_stack, method, path, raw=b"{nope") == (400, {"error": "the body is not JSON"})
    assert await tc(http_stack, "GET", "/_test/logs", params={"since": "x"}) == (
        400, {"error": "since must be an integer"})


async def test_a_refused_settings_change_changes_no_knob(http_stack: Stack) -> None:
    status, _ = await tc(http_stack, "PATCH", "/_test/settings",
                         {"calcom_timeout_s": 1.5, "slot_lock_timeout_s": 0})
    assert status == 400
    assert (await tc(http_stack, "GET", "/_test"))[1]["settings"] == KNOBS

    status, answer = await tc(http_stack, "PATCH", "/_test/settings",
                              {"calcom_timeout_s": 1.5, "slot_lock_timeout_s": 3})
    assert (status, answer) == (200, {"settings": {**KNOBS, "calcom_timeout_s": 1.5,
                                                   "slot_lock_timeout_s": 3.0}})
    assert (http_stack.ctx.calcom.timeout_s, http_stack.ctx.settings.slot_lock_timeout_s) == (1.5, 3.0)


# -- defenses ---------------------------------------------------------------------------------------


async def test_defenses_are_switched_on_the_running_service(stack: Stack) -> None:
    status, answer = await tc(stack, "PUT", "/_test/defenses",
                              {"off": ["freshness", "tenant_isolation"]})

    assert status == 200
    assert answer == {"defenses": {n: n not in ("freshness", "tenant_isolation")
                                   for n in DEFENSE_NAMES}}
    assert stack.ctx.settings.defenses.off == ["freshness", "tenant_isolation"]
    # `off` left out: everything on again.
    assert (await tc(stack, "PUT", "/_test/defenses", {}))[1] == {
        "defenses": dict.fromkeys(DEFENSE_NAMES, True)}


# -- failpoints -------------------------------------------------------------------------------------


async def test_crash_before_insert_fails_the_call_once_and_records_where(stack: Stack) -> None:
    status, armed = await tc(stack, "PUT", "/_test/failpoints/collect.before_insert",
                             {"action": "crash", "times": 1})
    assert (status, armed) == (200, {"name": "collect.before_insert",
                                     "directive": {"action": "crash", "times": 1}, "hits": []})

    crashed = await book(stack, "call_crash")
    survived = await book(stack, "call_after_crash", uhrzeit="15:00")

    assert crashed["status"] == "error", crashed
    assert crashed["success"] is False
    assert survived["status"] == "booked", survived
    [upstream_crashed] = [b for b in await stack.upstream()
                          if b["metadata"]["call_id"] == "call_crash"]
    berlin = stack.ctx.tenants.default_company.id
    assert (await tc(stack, "GET", "/_test/failpoints"))[1] == {"failpoints": {
        "collect.before_insert": {
            "directive": {"action": "crash", "times": 1},
            "hits": [{"failpoint": "collect.before_insert", "call_id": "call_crash",
                      "company_id": berlin, "start": S_ISO,
                      "booking_uid": upstream_crashed["uid"]}]}}}
    # Cal.com booked it, the service died before storing it.
    assert [a.call_id for a in await stack.appointments()] == ["call_after_crash"]


async def test_a_disarmed_failpoint_does_nothing(http_stack: Stack) -> None:
    await tc(http_stack, "PUT", "/_test/failpoints/collect.before_insert", {"action": "crash"})
    await tc(http_stack, "PUT", "/_test/failpoints/cancel.before_upstream", {"action": "crash"})

    status, answer = await tc(http_stack, "DELETE", "/_test/failpoints/collect.before_insert")

    assert (status, list(answer["failpoints"])) == (200, ["cancel.before_upstream"])
    assert (await book(http_stack, "call_disarmed"))["status"] == "booked"
    assert await tc(http_stack, "DELETE", "/_test/failpoints") == (200, {"failpoints": {}})
    assert dict(http_stack.ctx.settings.failpoints or {}) == {}


@contextlib.asynccontextmanager
async def held_endpoint() -> AsyncIterator[tuple[str, asyncio.Event, asyncio.Event, list[Any]]]:
    """A URL whose handler records the body, says it was entered, and answers only when
    released: (url, entered, release, bodies)."""
    entered, release = asyncio.Event(), asyncio.Event()
    bodies: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        entered.set()
        await release.wait()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/hook")), entered, release, bodies
    finally:
        release.set()
        await server.close()


async def test_a_call_failpoint_holds_the_flow_until_the_url_answers(stack: Stack) -> None:
    async with held_endpoint() as (url, entered, release, bodies):
        status, _ = await tc(stack, "PUT", "/_test/failpoints/collect.before_insert",
                             {"action": "call", "url": url, "body": {"note": "overtake"},
                              "with_context": True})
        assert status == 200
        flow = asyncio.create_task(book(stack, "call_held"))
        async with asyncio.timeout(30):
            await entered.wait()

        # The flow waits at the failpoint: Cal.com has booked, nothing is stored yet.
        assert not flow.done()
        [upstream] = await stack.upstream()
        assert await stack.appointments() == []

        release.set()
        async with asyncio.timeout(30):
            answer = await flow

    assert answer["status"] == "booked", answer
    assert [a.call_id for a in await stack.appointments()] == ["call_held"]
    context = {"failpoint": "collect.before_insert", "call_id": "call_held",
               "company_id": stack.ctx.tenants.default_company.id, "start": S_ISO,
               "booking_uid": upstream["uid"]}
    assert bodies == [{"note": "overtake", "context": context}]
    hits = (await tc(stack, "GET", "/_test/failpoints"))[1]["failpoints"]
    assert hits["collect.before_insert"]["hits"] == [context]


async def test_a_call_failpoint_meets_at_the_fakes_rendezvous(http_stack: Stack) -> None:
    url = http_stack.fake.url + "/_fake/rendezvous/before-insert"
    await tc(http_stack, "PUT", "/_test/failpoints/collect.before_insert",
             {"action": "call", "url": url, "body": {"parties": 1, "timeout_s": 10},
              "with_context": True})

    answer = await book(http_stack, "call_meets")

    assert answer["status"] == "booked", answer
    [point] = (await http_stack.control.rendezvous())["rendezvous"].values()
    assert (point["parties"], point["tripped"], point["timed_out"]) == (1, True, False)
    assert [c["call_id"] for c in point["arrived"]] == ["call_meets"]


# -- the clock ----------------------------------------------------------------------------------------


async def test_the_clock_freezes_advances_and_runs_again(http_stack: Stack) -> None:
    status, clock = await tc(http_stack, "POST", "/_test/clock", {"freeze": "2026-03-02T08:15:00Z"})
    assert (status, clock["now"], clock["frozen"], clock["peer"]) == (
        200, "2026-03-02T08:15:00.000Z", True, None)

    clock = (await tc(http_stack, "POST", "/_test/clock", {"advance_s": 90.5}))[1]
    assert (clock["now"], clock["frozen"]) == ("2026-03-02T08:16:30.500Z", True)
    assert (await tc(http_stack, "GET", "/_test/clock"))[1]["now"] == "2026-03-02T08:16:30.500Z"
    assert http_stack.ctx.settings.the_clock.now().isoformat() == "2026-03-02T08:16:30.500000+00:00"

    clock = (await tc(http_stack, "POST", "/_test/clock", {"unfreeze": True}))[1]
    assert clock["frozen"] is False
    assert clock["now"] >= "2026-03-02T08:16:30.500Z"  # running on from where it stood

    clock = (await tc(http_stack, "POST", "/_test/clock", {"reset": True}))[1]
    assert clock["frozen"] is False
    assert abs(clock["offset_s"]) < 1.0


async def test_a_frozen_wait_moves_the_peer_clock_by_the_same_amount(http_stack: Stack) -> None:
    peer = http_stack.fake.url + "/_fake/clock"
    linked = (await tc(http_stack, "POST", "/_test/clock", {"freeze": NOW_ISO, "peer": peer}))[1]
    assert (linked["now"], linked["peer"]) == (NOW_ISO, peer)
    assert (await http_stack.control.clock())["now"] == NOW_ISO

    await http_stack.ctx.settings.the_clock.sleep(42.25)  # a policy wait on the frozen clock

    assert (await tc(http_stack, "GET", "/_test/clock"))[1]["now"] == "2026-01-05T07:00:42.250Z"
    assert (await http_stack.control.clock())["now"] == "2026-01-05T07:00:42.250Z"


async def test_a_retry_backoff_in_a_flow_moves_both_clocks_together(http_stack: Stack) -> None:
    await tc(http_stack, "POST", "/_test/clock", {"freeze": NOW_ISO,
                                             "peer": http_stack.fake.url + "/_fake/clock"})
    await http_stack.control.add_fault({"name": "slots-503",
                                   "match": {"method": "GET", "path": "/v2/slots"},
                                   "trigger": {"kind": "first", "k": 2},
                                   "action": {"kind": "status", "status": 503}})

    answer = await http_stack.retell("check-availability", datum="07.01.2026", uhrzeit="14:00",
                                dienstleistung="Beratung", call_id="call_backoff")

    assert answer["status"] == "available", answer
    assert (await http_stack.control.faults())["faults"][0]["fired"] == 2
    service_now = (await tc(http_stack, "GET", "/_test/clock"))[1]["now"]
    assert service_now > NOW_ISO  # the service backed off (virtually) ...
    assert (await http_stack.control.clock())["now"] == service_now  # ... and Cal.com's time with it


async def test_without_a_peer_a_frozen_wait_moves_only_the_services_clock(http_stack: Stack) -> None:
    await tc(http_stack, "POST", "/_test/clock", {"freeze": NOW_ISO, "peer": None})

    await http_stack.ctx.settings.the_clock.sleep(10)

    assert (await tc(http_stack, "GET", "/_test/clock"))[1]["now"] == "2026-01-05T07:00:10.000Z"
    assert (await http_stack.control.clock())["now"] == NOW_ISO


# -- what the service believes, and what it logged ------------------------------------------------------


async def test_state_shows_every_appointment_and_with_rows_every_table(stack: Stack) -> None:
    booked = await book(stack, "call_state")

    status, state = await tc(stack, "GET", "/_test/state", params={"rows": "1"})

    assert status == 200
    tables = set(Base.metadata.tables)
    assert set(state) == {"appointments", "audit_log", "processed_webhooks", "tables", "rows"}
    assert set(state["tables"]) == tables
    assert set(state["rows"]) == tables
    assert {t: len(rows) for t, rows in state["rows"].items()} == state["tables"]
    [appointment] = state["appointments"]
    assert (appointment["call_id"], appointment["booking_uid"], appointment["start"],
            appointment["status"]) == ("call_state", booked["booking_uid"], S_ISO, "scheduled")
    [row] = state["rows"]["appointments"]
    assert row["calcom_booking_uid"] == booked["booking_uid"]
    assert [r["call_id"] for r in state["rows"]["calls"]] == ["call_state"]
    # Without ?rows=1 only the counts.
    assert "rows" not in (await tc(stack, "GET", "/_test/state"))[1]


async def test_logs_come_back_as_the_operator_sees_them_redacted(http_stack: Stack) -> None:
    before = (await tc(http_stack, "GET", "/_test/logs"))[1]["last"]
    logger = logging.getLogger("booking_service.test_control_probe")

    logger.warning("caller %s asked for anna.alt@example.com", "+49 151 2345 6789")

    status, logs = await tc(http_stack, "GET", "/_test/logs", params={"since": str(before)})
    assert status == 200
    [line] = [entry for entry in logs["lines"] if entry["logger"] == logger.name]
    assert line == {"seq": line["seq"], "logger": logger.name, "level": "WARNING",
                    "line": "WARNING booking_service.test_control_probe: caller ***89 asked "
                            "for a***@example.com"}
    assert before < line["seq"] <= logs["last"]
    # Lines up to `since` are not sent again (only the access log's lines of these requests).
    later = (await tc(http_stack, "GET", "/_test/logs", params={"since": str(logs["last"])}))[1]
    assert {entry["logger"] for entry in later["lines"]} <= {"aiohttp.access"}
    assert all(entry["seq"] > logs["last"] for entry in later["lines"])


async def test_a_stub_url_that_never_answers_ends_with_the_failpoints_timeout(
        http_stack: Stack) -> None:
    async with held_endpoint() as (url, _entered, _release, bodies):
        await tc(http_stack, "PUT", "/_test/failpoints/collect.after_double_check",
                 {"action": "call", "url": url, "timeout_s": 0.2})
        answer = await book(http_stack, "call_never_answered")
    # The call gave up: the flow did not go on to Cal.com.
    assert answer["status"] == "error", answer
    assert bodies == [{}]
    assert await http_stack.upstream() == []

