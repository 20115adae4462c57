"""A scenario's world: the stack, a fresh history, the driver, and the judge.

    def test_something(world):
        slot = world.slot(hour=10)
        answer = world.driver.collect(slot, name="Hans Schuster", call_id="call_1")
        assert answer.status == "booked"
        # on teardown the scenario fixture calls world.judge(): every invariant checker runs over
        # the history, the service's appointments and the fake's ground truth, and the test
        # fails with the evidence if any invariant is broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from booking_service import create_app
from booking_service.tenants import demo_tenants
from fake_calcom.client import AsyncFakeControl
from harness.checks import CheckOptions, GroundTruth, ServiceView, Verdict, assert_ok, run_all
from harness.driver import Driver
from harness.history import History, HistoryRecorder
from harness.slots import Slot, parse_z, workday_slot
from harness.stack import EmbeddedStack

#: The environment variable that switches defenses off for a scenario run (comma-separated).
DEFENSES_OFF_ENV = "CALHARNESS_DEFENSES_OFF"


def defenses_off_from_env() -> tuple[str, ...]:
    """The defenses this run switches off, as `CALHARNESS_DEFENSES_OFF` names them (set by
    `calharness verify --defense-off` and `ablate`, or by hand)."""
    raw = os.environ.get(DEFENSES_OFF_ENV, "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def defense_on_in_env(name: str) -> bool:
    """Whether this run keeps defense `name` on, decided from the environment alone: for what a
    scenario module decides at import time (an xfail that only holds while the defense behind
    the bug is on). Inside a scenario ask the running service: `world.defense_on(name)`."""
    return name not in defenses_off_from_env()


class InjectedCrash(RuntimeError):
    """Raised at a failpoint (`World.crash_at`) to make the service die there."""


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    api_key: str
    fallback_email: str
    calcom_api_key: str
    phone: str


class FailpointBarrier:
    """Hold whoever reaches it until `parties` have arrived, or until `timeout_s` passes.

    The timeout is a liveness fallback for the case where the defense under test *prevents* the
    others from arriving (a slot lock): then the first one through carries on alone and
    `timed_out` says so. It never decides an outcome by racing the scheduler."""

    def __init__(self, parties: int, timeout_s: float) -> None:
        self.parties = parties
        self.timeout_s = timeout_s
        self.arrived: list[dict[str, Any]] = []
        self.timed_out = False
        self._all_here = asyncio.Event()

    async def __call__(self, context: dict[str, Any]) -> None:
        self.arrived.append(context)
        if len(self.arrived) >= self.parties:
            self._all_here.set()
        try:
            await asyncio.wait_for(self._all_here.wait(), self.timeout_s)
        except TimeoutError:
            self.timed_out = True

    @property
    def tripped(self) -> bool:
        return self._all_here.is_set()


@dataclass
class World:
    stack: EmbeddedStack
    recorder: HistoryRecorder
    driver: Driver
    companies: dict[str, Company]
    check_options: CheckOptions = field(default_factory=CheckOptions)
    judged: bool = False
    last_verdicts: list[Verdict] = field(default_factory=list)

    # -- the target ----------------------------------------------------------------------------

    @property
    def fake(self) -> Any:
        """The fake Cal.com's control plane (blocking client)."""
        return self.stack.control

    @property
    def clock(self) -> Any:
        return self.stack.clock

    @property
    def berlin(self) -> Company:
        return self.companies["Praxis Berlin"]

    @property
    def hamburg(self) -> Company:
        return self.companies["Praxis Hamburg"]

    def slot(self, days_ahead: int = 1, hour: int = 10, minute: int = 0) -> Slot:
        """A bookable slot `days_ahead` working days from the shared clock's today."""
        return workday_slot(self.clock.now(), days_ahead, hour, minute)

    def barrier(self, failpoints: str | Iterable[str], parties: int = 2,
                timeout_s: float = 1.0) -> FailpointBarrier:
        """Register one barrier at one or more service failpoints (contract §2.5)."""
        names = [failpoints] if isinstance(failpoints, str) else list(failpoints)
        barrier = FailpointBarrier(parties, timeout_s)
        for name in names:
            self.stack.failpoints[name] = barrier
        return barrier

    def crash_at(self, failpoint: str, times: int = 1) -> list[dict[str, Any]]:
        """Make the service die at `failpoint` (an `InjectedCrash` there) the next `times` times
        it gets there — the way a process dies between "Cal.com said yes" and "the appointment
        is stored". Returns the contexts it crashed in (filled in as it happens)."""
        crashed: list[dict[str, Any]] = []

        async def crash(context: dict[str, Any]) -> None:
            if len(crashed) < times:
                crashed.append(context)
                raise InjectedCrash(f"injected crash at {failpoint}")

        self.stack.failpoints[failpoint] = crash
        return crashed

    def deliver_webhooks_at(self, failpoint: str) -> list[dict[str, Any]]:
        """Whenever the service reaches `failpoint`, first let the fake deliver every queued
        webhook (and wait until the service has handled them): forces "the webhook overtakes
        the voice flow" instead of hoping for it. Returns the contexts it held."""
        held: list[dict[str, Any]] = []
        fake_url = self.stack.fake_url

        async def deliver(context: dict[str, Any]) -> None:
            held.append(context)
            async with AsyncFakeControl(fake_url) as control:
                await control.flush_webhooks()

        self.stack.failpoints[failpoint] = deliver
        return held

    def arm(self, *faults: dict[str, Any]) -> list[str]:
        """Add faults to the fake's plan (docs/contracts.md §1.5; builders in harness.faults)."""
        return [self.fake.add_fault(f) for f in faults]

    def fired(self, name: str) -> int:
        """How often the fault called `name` has fired."""
        return sum(int(f["fired"]) for f in self.fake.faults()["faults"] if f["name"] == name)

    def requests_seen(self, method: str, path: str) -> dict[int, int]:
        """How many `method path` requests the fake answered, by HTTP status."""
        counts: dict[int, int] = {}
        for key, n in self.fake.stats()["requests"].items():
            verb, route, code = key.split(" ")
            if verb == method and route == path:
                counts[int(code)] = counts.get(int(code), 0) + n
        return counts

    def upstream(self, *, start: Slot | None = None, active: bool = True) -> list[dict[str, Any]]:
        """Cal.com's ground-truth bookings: active ones by default, optionally at one slot."""
        bookings = self.fake.state()["bookings"]
        if active:
            bookings = [b for b in bookings if b["status"] in ("accepted", "pending")]
        if start is not None:
            bookings = [b for b in bookings if parse_z(b["start"]) == start.start_dt]
        return bookings

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock the fake and the service share: ages become exact, and the service's
        policy waits (backoff, rate-limit windows) move virtual time instead of sleeping. The
        next reset makes it real again. Only for scenarios whose callers take turns: with a
        frozen clock one caller's wait moves time for everyone mid-flight."""
        self.clock.freeze(at)
        return self.clock.now()

    # -- the service under test ----------------------------------------------------------------

    def _context(self) -> Any:
        from harness.embedded_service import context_of

        assert self.stack.service_app is not None
        return context_of(self.stack.service_app)

    def defense_on(self, name: str) -> bool:
        """Whether the service under test runs with defense `name` switched on."""
        return bool(self._context().defenses.is_on(name))

    @contextlib.contextmanager
    def calcom_timeout(self, seconds: float = 0.25) -> Iterator[None]:
        """Run with the service's Cal.com timeout at `seconds` (the stack's is 2 s), restored
        after: a scenario whose upstream hangs waits a fraction of a second, not two."""
        client = self._context().calcom
        before = client.timeout_s
        client.timeout_s = seconds
        try:
            yield
        finally:
            client.timeout_s = before

    @contextlib.contextmanager
    def caller_rate_limit_wait(self, seconds: float) -> Iterator[None]:
        """Run with callers willing to wait `seconds` for Cal.com's rate-limit windows (the
        service's phone policy is 5 s, then `rate_limited`), restored after: a patient caller
        sees the service wait a whole 60-second window out and carry on."""
        settings = self._context().settings
        before = settings.caller_rate_limit_wait_s
        settings.caller_rate_limit_wait_s = seconds
        try:
            yield
        finally:
            settings.caller_rate_limit_wait_s = before

    @contextlib.contextmanager
    def slot_lock_timeout(self, seconds: float) -> Iterator[None]:
        """Run with the service's slot-lock timeout at `seconds` (30 s by default), restored
        after: a scenario exposing a starved lock holder then costs seconds, not thirty."""
        ctx = self._context()
        locks = ctx.slot_locks
        before = ctx.settings.slot_lock_timeout_s, getattr(locks, "timeout_s", None)
        ctx.settings.slot_lock_timeout_s = seconds
        if before[1] is not None:
            locks.timeout_s = seconds
        try:
            yield
        finally:
            ctx.settings.slot_lock_timeout_s = before[0]
            if before[1] is not None:
                locks.timeout_s = before[1]

    @contextlib.contextmanager
    def replica(self) -> Iterator[Driver]:
        """A second booking service on the same database, fake Cal.com, clock and failpoints —
        two replicas behind a load balancer — and a driver for it that records into this
        world's history.

        Only a lock that lives in the database (MariaDB's GET_LOCK) is shared by the two;
        SQLite's in-process lock is not, which is why a SQLite deployment must be one process."""
        stack = self.stack
        app = create_app(dataclasses.replace(self._context().settings))
        runner = web.AppRunner(app, shutdown_timeout=2.0)

        async def start() -> str:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return f"http://127.0.0.1:{runner.addresses[0][1]}"

        url = stack.run(start())
        driver = Driver(url, self.recorder, stack.run, fake_url=stack.fake_url,
                        calcom_api_key=self.driver.calcom_api_key)
        try:
            yield driver
        finally:
            driver.close()
            stack.run(runner.cleanup())

    def settle(self) -> None:
        """Wait until the fake has attempted every queued webhook delivery."""
        self.fake.flush_webhooks()

    # -- judging -------------------------------------------------------------------------------

    def history(self) -> History:
        return self.recorder.history()

    def service_view(self) -> ServiceView:
        return self.stack.run(_service_view(self.stack))

    def ground_truth(self) -> GroundTruth:
        return GroundTruth.from_json(self.fake.state())

    def verdicts(self, options: CheckOptions | None = None) -> list[Verdict]:
        self.settle()
        return run_all(self.history(), self.service_view(), self.ground_truth(),
                       options=options or self.check_options)

    def judge(self, options: CheckOptions | None = None) -> list[Verdict]:
        """Run every invariant checker; fail with the evidence if any is violated."""
        self.judged = True
        self.last_verdicts = self.verdicts(options)
        assert_ok(self.last_verdicts)
        return self.last_verdicts


async def _service_view(stack: EmbeddedStack) -> ServiceView:
    from booking_service.api import _appointments_query, appointment_json
    from harness.embedded_service import context_of, table_rows

    assert stack.service_app is not None
    ctx = context_of(stack.service_app)
    async with ctx.sessions() as session:
        rows = (await session.execute(_appointments_query())).all()
    appointments = [appointment_json(a, s, c) for a, s, c in rows]
    audit = await table_rows(stack.service_app, "audit_log")
    processed = await table_rows(stack.service_app, "processed_webhooks")
    return ServiceView.from_json(appointments, audit_log=audit, processed_webhooks=processed)


def demo_companies(stack: EmbeddedStack) -> dict[str, Company]:
    """The demo tenants (contract §2.6) with their database ids."""
    from harness.embedded_service import table_rows

    assert stack.service_app is not None
    ids = {row["name"]: row["id"] for row in stack.run(table_rows(stack.service_app, "companies"))}
    companies = {}
    for doc in demo_tenants()["companies"]:
        companies[doc["name"]] = Company(
            id=ids[doc["name"]], name=doc["name"], api_key=doc["api_key"],
            fallback_email=doc["fallback_email"], calcom_api_key=doc["calcom_api_key"],
            phone=doc["branches"][0]["phone"])
    return companies


@contextlib.contextmanager
def world_for(stack: EmbeddedStack, *, defenses_off: Iterable[str] | None = None,
              judge: bool = True) -> Any:
    """A clean world on `stack` for one scenario; judges it at the end unless told not to (or
    unless the scenario already did)."""
    stack.reset(defenses_off)
    recorder = HistoryRecorder()
    companies = demo_companies(stack)
    # Changes made in Cal.com directly (Driver.outside_cancel, …) are the first practice's.
    driver = Driver(stack.service_url, recorder, stack.run, fake_url=stack.fake_url,
                    calcom_api_key=companies["Praxis Berlin"].calcom_api_key)
    world = World(stack=stack, recorder=recorder, driver=driver, companies=companies)
    try:
        yield world
        if judge and not world.judged:
            world.judge()
    finally:
        driver.close()
        recorder.close()
