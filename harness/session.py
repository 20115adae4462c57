"""One run against one target: its loop, its adapter, what it offers, its budget, its clean-up.

A session opens once per test process. It builds the target's adapter, asks the fake Cal.com's
control plane and the service's test-control endpoint what they answer, and from that decides
the run's capabilities (harness/capabilities.py). Scenarios then get a fresh `World` each
(harness/world.py). Against a deployment without a reset, the session books on far-off days,
counts requests against the target's budget and cancels what it booked at the end.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import aiohttp

from fake_calcom.client import AsyncFakeControl, FakeControl
from fake_calcom.loop_thread import LoopThread
from harness.adapters import Adapter, AdapterContext, AdapterError, Request, load_adapter_class
from harness.capabilities import CAPABILITIES, MissingCapability
from harness.control import TestControlClient, TestControlError
from harness.target import Target, TargetCompany, TargetError

T = TypeVar("T")

ADAPTER_CAPABILITIES = frozenset({"check", "book", "cancel", "reschedule", "appointments",
                                  "voice_api", "tenant_reads", "webhooks", "reconcile", "holds"})


class BudgetExceeded(RuntimeError):
    """The run would send more requests than the target file allows (stops the run)."""


@dataclass
class ServiceInfo:
    """What the service's test control told about itself (empty without test control)."""

    capabilities: frozenset[str] = frozenset()
    defenses: dict[str, bool] = field(default_factory=dict)
    failpoints: tuple[str, ...] = ()
    settings: dict[str, float] = field(default_factory=dict)
    database: str | None = None
    webhook_path: str | None = None
    webhook_secret: str | None = None


class Session:
    """Use as a context manager, or `open()` then `close()`."""

    def __init__(self, target: Target, *, defenses_off: tuple[str, ...] = ()) -> None:
        self.target = target
        self.defenses_off = tuple(defenses_off)
        self.loop = LoopThread(name=f"calharness-{target.name}")
        self.capabilities: frozenset[str] = frozenset()
        self.service = ServiceInfo()
        self.companies: dict[str, TargetCompany] = dict(target.companies)
        self.requests = 0
        self._spend_lock = threading.Lock()
        self.booked: list[Request] = []  # what the run still holds, cancelled at the end (no reset)
        self.booking_uids: dict[int | str, str] = {}  # appointment id -> booking uid (of booked)
        self.gone: set[str] = set()  # booking uids the run's histories show ended upstream
        #: Active bookings on the fake the run made or caused but holds no appointment for
        #: (outside bookings, slot steals, moves made in Cal.com): (uid, Cal.com key to cancel
        #: with), cancelled in Cal.com directly at the end so the next run finds the days free.
        self.upstream_left: list[tuple[str, str]] = []
        self._scenarios = itertools.count()
        self._phones = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None
        self.adapter: Adapter | None = None
        self.control: TestControlClient | None = None
        self.replica_control: TestControlClient | None = None
        self.fake: FakeControl | None = None
        self.used: set[str] = set()  # capabilities the current scenario asked for

    # lifecycle ----------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 300) -> T:
        return self.loop.run(coro, timeout)

    def open(self) -> Session:
        try:
            self.run(self._aopen())
        except BaseException:
            self.close()
            raise
        return self

    async def _aopen(self) -> None:
        target = self.target
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        try:
            cls = load_adapter_class(target.adapter)
            self.adapter = cls(AdapterContext(target, self._http, target.adapter_settings))
        except (AdapterError, ValueError, TypeError) as exc:
            raise TargetError(f"{target.name}: {exc}") from None
        offered = set(getattr(self.adapter, "capabilities", ())) & ADAPTER_CAPABILITIES
        fake = await self._probe_fake()
        if fake:
            offered |= {"ground_truth", "calcom_journal"}
            if target.allow_faults or target.embedded:
                offered |= {"faults", "outside_changes", "webhook_control"}
        elif target.calcom_api_url and target.calcom_api_key:
            offered.add("ground_truth")
        if target.test_control_token:
            await self._open_test_control(fake, offered)
        if target.calcom_webhook_secret and self.service.webhook_secret is None:
            self.service.webhook_secret = target.calcom_webhook_secret
            offered.add("webhook_secret")
        if "primary" not in self.companies:
            raise TargetError(f"{target.name}: no tenant to call: give [companies.primary] "
                              f"(api_key, phone)")
        if "secondary" in self.companies:
            offered.add("second_tenant")
        self.capabilities = frozenset(c for c in offered if c in CAPABILITIES)

    async def _probe_fake(self) -> bool:
        url = self.target.calcom_control_url
        if url is None:
            return False
        async with AsyncFakeControl(url, timeout_s=5) as control:
            try:
                await control.clock()
            except Exception as exc:
                if self.target.allow_faults:
                    raise TargetError(
                        f"{self.target.name}: allow_faults, but the fake Cal.com's control "
                        f"plane at {url} does not answer ({type(exc).__name__}: {exc}); faults "
                        f"are only sent to a fake") from None
                return False
        self.fake = FakeControl(url)
        return True

    async def _open_test_control(self, fake: bool, offered: set[str]) -> None:
        target = self.target
        assert target.test_control_url
        assert target.test_control_token
        self.control = TestControlClient(target.test_control_url, target.test_control_token)
        try:
            described = await self.control.describe()
        except TestControlError as exc:
            raise TargetError(f"{target.name}: test control at {target.test_control_url} "
                              f"refused: {exc}") from None
        caps = frozenset(described.get("capabilities") or ())
        webhooks = described.get("webhooks") or {}
        self.service = ServiceInfo(
            capabilities=caps, defenses=dict(described.get("defenses") or {}),
            failpoints=tuple(described.get("failpoints") or ()),
            settings=dict(described.get("settings") or {}), database=described.get("database"),
            webhook_path=webhooks.get("path"), webhook_secret=webhooks.get("secret"))
        for cap, needs_fake in (("reset", True), ("clock", True), ("defenses", False),
                                ("failpoints", False), ("service_settings", False),
                                ("service_logs", False)):
            name = {"service_settings": "settings", "service_logs": "logs"}.get(cap, cap)
            if name in caps and (fake or not needs_fake):
                offered.add(cap)
        if "state" in caps:
            offered.add("service_state")
        if self.service.database in ("mariadb", "mysql"):
            offered.add("mariadb")
        if self.service.webhook_secret:
            offered.add("webhook_secret")
        if target.replica_url:
            self.replica_control = TestControlClient(target.replica_url,
                                                     target.test_control_token)
            offered.add("replica")
        for i, tenant in enumerate(described.get("tenants") or ()):
            role = ("primary", "secondary")[i] if i < 2 else f"tenant{i}"
            given = self.companies.get(role)
            self.companies[role] = TargetCompany(
                role=role, api_key=given.api_key if given else tenant["api_key"],
                phone=(given.phone if given and given.phone else
                       (tenant.get("phones") or [None])[0]),
                fallback_email=tenant.get("fallback_email"), id=tenant.get("id"),
                name=tenant.get("name"), calcom_api_key=tenant.get("calcom_api_key"),
                branch_ids=tuple(tenant.get("branch_ids") or ()))
        if "reset" in offered:
            await self.reset_service(self.defenses_off)

    async def reset_service(self, defenses_off: tuple[str, ...]) -> None:
        """Both halves to a clean slate: the fake as it started, the service wiped with the
        given defenses off, and the fake's webhooks pointed at the service again."""
        assert self.control is not None
        assert self.fake is not None
        async with AsyncFakeControl(self.fake.base_url) as fake:
            await fake.reset("restore")
            for control in (self.control, self.replica_control):
                if control is not None:
                    await control.reset(list(defenses_off))
            if self.service.webhook_path:
                await fake.subscribe(self.target.service_url + self.service.webhook_path,
                                     secret=self.service.webhook_secret)

    def close(self) -> None:
        async def aclose() -> None:
            for closable in (self.adapter, self.control, self.replica_control):
                if closable is not None:
                    await closable.close()
            if self._http is not None:
                await self._http.close()

        if self.loop.running:
            try:
                self.run(aclose(), timeout=30)
            finally:
                self.loop.close()
        self.fake = None

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def need(self, *names: str) -> None:
        self.used.update(names)
        missing = [n for n in names if n not in self.capabilities]
        if missing:
            raise MissingCapability(*missing)

    def require_adapter(self) -> Adapter:
        if self.adapter is None:
            raise RuntimeError("the session is not open")
        return self.adapter

    def adapter_for(self, service_url: str) -> Adapter:
        """The target's adapter for another instance of its service (a replica)."""
        assert self._http is not None
        cls = load_adapter_class(self.target.adapter)
        adapter: Adapter = cls(AdapterContext(replace(self.target, service_url=service_url),
                                              self._http, self.target.adapter_settings))
        return adapter

    # the run's safety rails ------------------------------------------------------------------------

    @property
    def resets(self) -> bool:
        return "reset" in self.capabilities

    def spend(self, request: Request | None = None) -> None:
        """Count one request against the budget; refuse a booking the target does not allow."""
        target = self.target
        if target.embedded:
            return
        with self._spend_lock:
            if target.max_requests is not None and self.requests >= target.max_requests:
                raise BudgetExceeded(
                    f"request budget of {target.max_requests} reached (raise max_requests "
                    f"in the target file to allow more)")
            if request is not None and request.f in ("collect", "reschedule") \
                    and request.confirm is not False and not target.allow_booking:
                raise BudgetExceeded("the target file does not allow booking "
                                     "(set allow_booking = true to run booking scenarios)")
            self.requests += 1

    def new_phone(self) -> str:
        """A caller's phone number no other call of this run (nor, but by a 1-in-1000 chance,
        of another run on the same target) has: attribution by phone stays exact."""
        # Where the target is reset for every scenario the numbers repeat from run to run (a run
        # is the same every time); only a shared target needs them apart by run.
        run = 0 if self.resets else int.from_bytes(self.target.run_id.encode(), "big") % 1000
        return f"+49155{run:03d}{next(self._phones):05d}"

    def next_day_offset(self) -> int:
        """Without a reset each scenario books on its own days, far from real callers."""
        if self.resets:
            return 0
        return self.target.days_ahead + 4 * next(self._scenarios)

    def clean_up(self) -> list[str]:
        """Cancel what the run still holds (when nothing resets the service); returns what
        failed. The fake's faults go first, so the cancellations and their webhooks get
        through; a booking already gone counts as cancelled only when a history showed it end."""
        if self.resets or self.adapter is None:
            return []
        adapter = self.adapter
        problems: list[str] = []
        faults = self.fake is not None and "faults" in self.capabilities

        async def cancel_all() -> None:
            if faults:
                assert self.fake is not None
                async with AsyncFakeControl(self.fake.base_url) as fake:
                    await fake.clear_faults()
                    await fake.hold_webhooks(False)
            reason = f"calharness run {self.target.run_id} clean-up"
            for booked in self.booked:
                answer = await adapter.cancel(replace(booked, f="cancel", reason=reason,
                                                      extra={}))
                uid = self.booking_uids.get(booked.appointment_id) \
                    if booked.appointment_id is not None else None
                if answer.status == "cancelled" or (
                        answer.status in ("already_cancelled", "not_found") and uid in self.gone):
                    continue
                problems.append(f"call {booked.call_id}: {answer.body or answer.error}")
            if self.upstream_left and self.fake is not None:
                await self._cancel_upstream(reason, problems)

        self.run(cancel_all())
        return problems

    async def _cancel_upstream(self, reason: str, problems: list[str]) -> None:
        """Cancel in the fake Cal.com, as its host, the bookings the run left there (their
        webhooks tell the service), then wait until those webhooks were delivered."""
        assert self.fake is not None
        assert self._http is not None
        async with AsyncFakeControl(self.fake.base_url) as fake:
            active = {b["uid"] for b in (await fake.state())["bookings"]
                      if b["status"] in ("accepted", "pending")}
            for uid, key in dict(self.upstream_left).items():
                if uid not in active:
                    continue
                async with self._http.post(
                        f"{self.fake.base_url}/v2/bookings/{uid}/cancel",
                        json={"cancellationReason": reason},
                        headers={"cal-api-version": "2024-08-13",
                                 "Authorization": f"Bearer {key}"}) as response:
                    if response.status >= 300:
                        problems.append(f"booking {uid}: Cal.com answered {response.status}")
            await fake.flush_webhooks()
