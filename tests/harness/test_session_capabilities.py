"""`harness.session.Session`: what a target offers (capability negotiation), the safety rails
(budget, booking), and the clients it negotiates with (`harness.control`, `harness.capabilities`).

The live target is the embedded stack (`harness.stack.EmbeddedStack`) — as the harness sees
any deployment; a partial or foreign test control is a small aiohttp app on a loop thread.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from booking_service.defenses import DEFENSE_NAMES
from fake_calcom.loop_thread import LoopThread
from harness.adapters import Request
from harness.capabilities import (
    CAPABILITIES,
    SERVICE_CONTROL,
    UPSTREAM,
    MissingCapability,
    parse_skip_reason,
    skip_reason,
    unknown,
)
from harness.control import TestControlClient, TestControlError
from harness.session import ADAPTER_CAPABILITIES, BudgetExceeded, Session
from harness.stack import EmbeddedStack, StackOptions
from harness.target import Target, TargetCompany, TargetError

VOICE = {"check", "book", "cancel", "reschedule", "appointments", "voice_api", "tenant_reads",
         "webhooks", "reconcile"}
SERVICE = {"reset", "clock", "defenses", "failpoints", "service_state", "service_settings",
           "service_logs"}
FAKE = {"ground_truth", "calcom_journal", "faults", "outside_changes", "webhook_control"}
FAILPOINTS = ("collect.after_double_check", "collect.before_insert", "webhook.before_insert",
              "reconcile.before_insert", "cancel.before_upstream")


def dead_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(StackOptions(label="session-tests", allow_docker=False)) as started:
        yield started


def opened(target: Target) -> Session:
    return Session(target).open()


def without_test_control(target: Target) -> Target:
    return dataclasses.replace(target, test_control_url=None, test_control_token=None,
                               replica_url=None)


# -- negotiation against the embedded stack --------------------------------------------------------


def test_the_embedded_stack_offers_every_capability(stack: EmbeddedStack) -> None:
    with Session(stack.target) as session:
        on_mariadb = {"mariadb", "replica"} if stack.replica_url else set()
        assert session.capabilities == frozenset(
            VOICE | FAKE | SERVICE | {"webhook_secret", "second_tenant"} | on_mariadb)
        assert session.resets
        info = session.service
        assert info.capabilities == {"reset", "defenses", "clock", "failpoints", "state",
                                     "settings", "logs"}
        assert info.defenses == dict.fromkeys(DEFENSE_NAMES, True)
        assert info.failpoints == FAILPOINTS
        assert info.webhook_path == "/api/webhooks/calcom"
        assert info.webhook_secret == "whsec_calharness_embedded"
        assert info.database == ("mariadb" if stack.replica_url else "sqlite")
        # The service named its tenants: ids, names and keys come from its test control.
        primary, secondary = session.companies["primary"], session.companies["secondary"]
        assert (primary.name, primary.api_key, primary.phone, primary.fallback_email,
                primary.calcom_api_key, primary.branch_ids) == (
            "Praxis Berlin", "bs_demo_berlin", "+4930123456", "termin@praxis-berlin.example",
            "cal_live_calharness_anna", ("6f1c2b0e-3d4a-4c59-9e8f-0a1b2c3d4e5f",))
        assert isinstance(primary.id, int)
        assert (secondary.name, secondary.api_key) == ("Praxis Hamburg", "bs_demo_hamburg")
        assert primary.id != secondary.id
        assert session.next_day_offset() == session.next_day_offset() == 0


def test_without_a_token_the_service_offers_no_test_control(stack: EmbeddedStack) -> None:
    with Session(without_test_control(stack.target)) as session:
        assert session.capabilities == frozenset(VOICE | FAKE | {"second_tenant"})
        assert not session.capabilities & (SERVICE_CONTROL | {"mariadb", "webhook_secret"})
        assert session.control is None
        assert not session.resets
        assert session.service.capabilities == frozenset()
        assert session.companies["primary"].id is None  # nobody named the tenant's id


def test_a_webhook_secret_in_the_target_file_lets_the_harness_sign(stack: EmbeddedStack) -> None:
    target = replace(without_test_control(stack.target), calcom_webhook_secret="whsec_given")
    with Session(target) as session:
        assert "webhook_secret" in session.capabilities
        assert session.service.webhook_secret == "whsec_given"


def test_a_fake_without_allow_faults_gives_ground_truth_but_no_faults(
        stack: EmbeddedStack) -> None:
    target = dataclasses.replace(without_test_control(stack.target), embedded=False,
                                 allow_faults=False)
    with Session(target) as session:
        assert session.capabilities & UPSTREAM == {"ground_truth", "calcom_journal"}


def test_the_real_calcom_read_only_gives_ground_truth_alone(stack: EmbeddedStack) -> None:
    target = dataclasses.replace(without_test_control(stack.target), embedded=False,
                                 allow_faults=False, calcom_control_url=None,
                                 calcom_api_url="https://api.cal.com", calcom_api_key="cal_k")
    with Session(target) as session:
        assert session.capabilities & UPSTREAM == {"ground_truth"}
        assert session.fake is None


def test_allow_faults_is_refused_when_the_fakes_control_plane_does_not_answer(
        stack: EmbeddedStack) -> None:
    dead = dead_url()
    target = dataclasses.replace(stack.target, calcom_control_url=dead)

    with pytest.raises(TargetError) as error:
        opened(target)

    message = str(error.value)
    assert message.startswith(f"embedded: allow_faults, but the fake Cal.com's control plane at "
                              f"{dead} does not answer (ClientConnectorError")
    assert message.endswith("faults are only sent to a fake")


def test_a_dead_fake_without_allow_faults_just_offers_nothing_upstream(
        stack: EmbeddedStack) -> None:
    target = dataclasses.replace(without_test_control(stack.target), embedded=False,
                                 allow_faults=False, calcom_control_url=dead_url())
    with Session(target) as session:
        assert not session.capabilities & UPSTREAM
        assert session.fake is None


def test_a_wrong_token_is_a_target_error_naming_the_url(stack: EmbeddedStack) -> None:
    target = dataclasses.replace(stack.target, test_control_token="not-the-token")

    with pytest.raises(TargetError) as error:
        opened(target)

    assert str(error.value) == (
        f"embedded: test control at {stack.service_url} refused: test control GET /_test -> "
        "401: test control needs 'Authorization: Bearer <token>'")


def test_opening_resets_the_fake_and_the_service(stack: EmbeddedStack) -> None:
    assert stack.control is not None
    stack.control.take_slot(2001, "2031-03-04T09:00:00Z",
                            {"name": "Outside Booker", "email": "outside@example.com"},
                            webhooks=False)
    assert stack.control.state()["bookings"]

    with Session(stack.target, defenses_off=("freshness",)) as session:
        assert stack.control.state()["bookings"] == []
        assert session.run(session.control.describe())["defenses"]["freshness"] is False  # type: ignore[union-attr]
    stack.reset()


# -- a service with a part of the protocol, or another protocol -----------------------------------------


class StubService:
    """A tiny service on its own loop thread answering `GET /_test` with `described`."""

    def __init__(self, described: Any) -> None:
        self.described = described
        self.loop = LoopThread(name="stub-service")
        self.url = self.loop.run(self._start())

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_get("/_test", self._describe)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _describe(self, _request: web.Request) -> web.Response:
        return web.json_response(self.described)

    def close(self) -> None:
        self.loop.run(self._runner.cleanup())
        self.loop.close()


@pytest.fixture
def stub() -> Iterator[list[StubService]]:
    started: list[StubService] = []
    yield started
    for service in started:
        service.close()


def stub_target(stub: list[StubService], described: Any, **changes: Any) -> Target:
    service = StubService(described)
    stub.append(service)
    fields: dict[str, Any] = {"name": "stub", "service_url": service.url,
                              "test_control_url": service.url, "test_control_token": "t"}
    fields.update(changes)
    return Target(**fields)


def test_a_partial_test_control_offers_only_what_it_says(stub: list[StubService]) -> None:
    described = {"protocol": "calharness-test-control", "version": 1,
                 "capabilities": ["state", "logs", "defenses", "clock", "reset"],
                 "database": "mysql",
                 "tenants": [{"id": 7, "name": "Only Tenant", "api_key": "bs_only",
                              "phones": ["+4989000"], "branch_ids": ["b-1"]}]}
    with Session(stub_target(stub, described)) as session:
        # clock and reset need a fake Cal.com behind the service (none here).
        assert session.capabilities == frozenset(VOICE | {"service_state", "service_logs",
                                                          "defenses", "mariadb"})
        assert session.companies == {"primary": TargetCompany(
            role="primary", api_key="bs_only", phone="+4989000", id=7, name="Only Tenant",
            branch_ids=("b-1",))}


def test_the_target_files_company_keys_win_over_the_services(stub: list[StubService]) -> None:
    described = {"protocol": "calharness-test-control", "version": 1, "capabilities": [],
                 "tenants": [{"id": 7, "name": "T", "api_key": "bs_told", "phones": ["+49891"]}]}
    given = {"primary": TargetCompany(role="primary", api_key="bs_mine", phone="+49892")}
    with Session(stub_target(stub, described, companies=given)) as session:
        primary = session.companies["primary"]
        assert (primary.api_key, primary.phone, primary.id) == ("bs_mine", "+49892", 7)


@pytest.mark.parametrize(("described", "problem"), [
    ({"protocol": "calharness-test-control", "version": 2, "capabilities": []},
     "protocol version 2, this harness speaks 1"),
    ({"protocol": "something-else", "version": 1}, "not the calharness-test-control protocol"),
    (["not", "an", "object"], "not the calharness-test-control protocol"),
])
def test_another_protocol_is_refused(stub: list[StubService], described: Any,
                                     problem: str) -> None:
    target = stub_target(stub, described)
    with pytest.raises(TargetError) as error:
        opened(target)
    assert str(error.value).startswith(f"stub: test control at {target.test_control_url} "
                                       f"refused: test control GET /_test -> 200: {problem}")


def test_a_service_that_names_no_tenant_leaves_nobody_to_call(stub: list[StubService]) -> None:
    described = {"protocol": "calharness-test-control", "version": 1, "capabilities": []}
    with pytest.raises(TargetError) as error:
        opened(stub_target(stub, described))
    assert str(error.value) == "stub: no tenant to call: give [companies.primary] (api_key, phone)"


# -- adapters as the session builds them ------------------------------------------------------------


ADAPTER_MODULE = '''
from harness.adapters import Attribution


class Claims:
    capabilities = frozenset({"book", "check", "reset", "faults", "nonsense"})
    attribution = Attribution("phone")

    def __init__(self, context):
        self.settings = dict(context.settings)
        if self.settings.get("explode"):
            raise ValueError("claims adapter: explode is not a setting")

    async def check(self, request): ...
    async def book(self, request): ...
    async def cancel(self, request): ...
    async def reschedule(self, request): ...
    async def appointments(self, company, day): ...
    async def close(self): ...
'''


@pytest.fixture
def claims_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "claims_adapter_mod.py").write_text(ADAPTER_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "claims_adapter_mod", raising=False)
    return "claims_adapter_mod:Claims"


def test_an_adapter_cannot_claim_what_only_the_target_gives(claims_adapter: str) -> None:
    target = Target(name="claims", service_url=dead_url(), adapter=claims_adapter,
                    adapter_settings={"timeout_s": 3},
                    companies={"primary": TargetCompany(role="primary", api_key="k")})
    with Session(target) as session:
        assert session.capabilities == {"book", "check"}
        assert session.require_adapter().settings == {"timeout_s": 3}  # type: ignore[attr-defined]
        assert session.next_day_offset() == 30
        assert session.next_day_offset() == 34  # each scenario on days of its own


def test_an_adapter_refusing_its_settings_is_a_target_error(claims_adapter: str) -> None:
    target = Target(name="claims", service_url=dead_url(), adapter=claims_adapter,
                    adapter_settings={"explode": True},
                    companies={"primary": TargetCompany(role="primary", api_key="k")})
    with pytest.raises(TargetError) as error:
        opened(target)
    assert str(error.value) == "claims: claims adapter: explode is not a setting"


def test_an_adapter_that_cannot_be_loaded_is_a_target_error() -> None:
    target = Target(name="t", service_url=dead_url(), adapter="no_such_module_xyz:Adapter",
                    companies={"primary": TargetCompany(role="primary", api_key="k")})
    with pytest.raises(TargetError, match=r"^t: adapter 'no_such_module_xyz:Adapter': cannot "
                                          r"import no_such_module_xyz"):
        opened(target)


def test_adapter_capabilities_are_all_known() -> None:
    assert set(CAPABILITIES) >= ADAPTER_CAPABILITIES
    assert set(CAPABILITIES) >= UPSTREAM
    assert set(CAPABILITIES) >= SERVICE_CONTROL


# -- the budget and the booking rail --------------------------------------------------------------


def rail_target(**changes: Any) -> Target:
    fields: dict[str, Any] = {"name": "rails", "service_url": "http://127.0.0.1:9",
                              "companies": {"primary": TargetCompany(role="primary",
                                                                     api_key="k")}}
    fields.update(changes)
    return Target(**fields)


@pytest.fixture
def closing() -> Iterator[list[Session]]:
    sessions: list[Session] = []
    yield sessions
    for session in sessions:
        session.close()


def session_for(closing: list[Session], target: Target) -> Session:
    session = Session(target)
    closing.append(session)
    return session


def test_the_request_budget_stops_the_third_request(closing: list[Session]) -> None:
    session = session_for(closing, rail_target(max_requests=2, allow_booking=True))
    session.spend()
    session.spend(Request("collect", "call_1"))

    with pytest.raises(BudgetExceeded) as error:
        session.spend()

    assert str(error.value) == ("request budget of 2 reached (raise max_requests in the target "
                                "file to allow more)")
    assert session.requests == 2


def test_booking_is_refused_unless_the_target_allows_it(closing: list[Session]) -> None:
    session = session_for(closing, rail_target(max_requests=10, allow_booking=False))
    for refused in (Request("collect", "c1"), Request("collect", "c2", confirm=True),
                    Request("reschedule", "c3")):
        with pytest.raises(BudgetExceeded) as error:
            session.spend(refused)
        assert str(error.value) == ("the target file does not allow booking (set "
                                    "allow_booking = true to run booking scenarios)")
    assert session.requests == 0

    for allowed in (Request("check", "c4"), Request("collect", "c5", confirm=False),
                    Request("cancel", "c6"), None):
        session.spend(allowed)
    assert session.requests == 4


def test_no_budget_and_embedded_targets_are_never_stopped(closing: list[Session]) -> None:
    unlimited = session_for(closing, rail_target(max_requests=None, allow_booking=True))
    for _ in range(1000):
        unlimited.spend(Request("collect", "c"))
    assert unlimited.requests == 1000

    embedded = session_for(closing, rail_target(max_requests=1, allow_booking=False,
                                                embedded=True))
    for _ in range(5):
        embedded.spend(Request("collect", "c"))
    assert embedded.requests == 0


def test_the_budget_holds_across_threads(closing: list[Session]) -> None:
    session = session_for(closing, rail_target(max_requests=50))
    refused: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(10):
            try:
                session.spend()
            except BudgetExceeded:
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert (session.requests, len(refused)) == (50, 30)


def test_a_scenario_needing_a_missing_capability_is_told_which(closing: list[Session]) -> None:
    session = session_for(closing, rail_target())
    session.capabilities = frozenset({"book"})
    session.need("book")
    with pytest.raises(MissingCapability) as missing:
        session.need("book", "faults", "clock")
    assert missing.value.names == ("faults", "clock")
    assert str(missing.value) == "missing capability: clock, faults"
    assert session.used == {"book", "faults", "clock"}


# -- capabilities: the skip reason the report parses -----------------------------------------------


def test_skip_reasons_name_the_missing_capabilities_sorted() -> None:
    assert skip_reason(["reset", "clock"]) == "missing capability: clock, reset"
    assert skip_reason({"faults"}) == "missing capability: faults"


@pytest.mark.parametrize(("reason", "names"), [
    ("missing capability: clock, reset", ["clock", "reset"]),
    ("Skipped: missing capability: faults", ["faults"]),
    ("missing capability: mariadb (undeclared: add @pytest.mark.needs)", ["mariadb"]),
    ("missing capability: clock\nmore text, reset", ["clock"]),
    ("missing capability: clock, warp_drive", ["clock"]),
    ("HARNESS_MYSQL_URL is not set", []),
    ("", []),
])
def test_parse_skip_reason_reads_back_what_skip_reason_wrote(reason: str,
                                                             names: list[str]) -> None:
    assert parse_skip_reason(reason) == names


def test_every_capability_round_trips_through_a_skip_reason() -> None:
    assert parse_skip_reason(skip_reason(CAPABILITIES)) == sorted(CAPABILITIES)
    assert unknown(["clock", "warp_drive", "a"]) == ["a", "warp_drive"]


# -- the test-control client --------------------------------------------------------------------------


def test_the_client_speaks_every_endpoint(stack: EmbeddedStack) -> None:
    async def exercise() -> dict[str, Any]:
        client = TestControlClient(stack.service_url, stack.token)
        try:
            seen: dict[str, Any] = {"describe": (await client.describe())["protocol"]}
            seen["defenses"] = (await client.set_defenses(["slot_lock"]))["defenses"]["slot_lock"]
            seen["frozen"] = (await client.clock(freeze="2031-03-03T08:00:00Z"))["now"]
            seen["advanced"] = (await client.clock(advance_s=30))["now"]
            seen["clock"] = (await client.clock())["now"]
            await client.arm_failpoint("cancel.before_upstream", {"action": "crash"})
            seen["armed"] = list(await client.failpoints())
            await client.disarm_failpoint("cancel.before_upstream")
            seen["disarmed"] = await client.failpoints()
            seen["settings"] = (await client.settings(calcom_timeout_s=1.25))["calcom_timeout_s"]
            seen["state"] = sorted(await client.state(rows=True))
            seen["logs"] = sorted(await client.logs())
            seen["reset"] = (await client.reset([]))["reset"]
            return seen
        finally:
            await client.close()

    assert stack.run(exercise()) == {
        "describe": "calharness-test-control", "defenses": False,
        "frozen": "2031-03-03T08:00:00.000Z", "advanced": "2031-03-03T08:00:30.000Z",
        "clock": "2031-03-03T08:00:30.000Z", "armed": ["cancel.before_upstream"],
        "disarmed": {}, "settings": 1.25,
        "state": ["appointments", "audit_log", "processed_webhooks", "rows", "tables"],
        "logs": ["last", "lines"], "reset": True}
    stack.reset()


def test_the_client_raises_with_the_services_message_and_status(stack: EmbeddedStack) -> None:
    async def refused() -> TestControlError:
        client = TestControlClient(stack.service_url, stack.token)
        try:
            await client.arm_failpoint("nowhere", {"action": "crash"})
        except TestControlError as error:
            return error
        finally:
            await client.close()
        raise AssertionError("no error")

    error = stack.run(refused())
    assert error.status == 400
    assert str(error).startswith("test control PUT /_test/failpoints/nowhere -> 400: unknown "
                                 "failpoint 'nowhere'")


def test_the_client_reports_a_dead_service_without_a_status() -> None:
    url = dead_url()

    async def dead() -> TestControlError:
        client = TestControlClient(url, "t", timeout_s=5)
        try:
            await client.describe()
        except TestControlError as error:
            return error
        finally:
            await client.close()
        raise AssertionError("no error")

    with LoopThread() as loop:
        error = loop.run(dead())
    assert error.status is None
    assert str(error).startswith("test control GET /_test -> None: ClientConnectorError")

