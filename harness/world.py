"""A scenario's world: one target, a fresh history, the driver, and the judge.

    @pytest.mark.needs("faults")
    def test_something(world):
        slot = world.slot(hour=10)
        world.arm(fault("lost-answer", status(503, "after"), first=1))
        answer = world.driver.collect(slot, name="Hans Schuster", call_id="call_1")
        assert answer.status == "booked"
        # then every invariant checker runs over the history, what the service's API (or its
        # test control) shows and Cal.com's ground truth, and the scenario fails with the
        # evidence if any invariant is broken.

There is one World whatever the target: the embedded stack, the reference service in its own
processes, a user's service through its adapter, staging. What it may do comes from the
session's capabilities (harness/capabilities.py); a method used without its capability raises
`MissingCapability`, which skips the scenario and names what it lacked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from fake_calcom.client import AsyncFakeControl, FakeControl
from harness.capabilities import MissingCapability
from harness.checks import CheckOptions, GroundTruth, ServiceView, Verdict, assert_ok, run_all
from harness.checks.attribution import attributor
from harness.checks.inputs import instant
from harness.control import TestControlClient
from harness.driver import Driver
from harness.history import History, HistoryRecorder, booking_uid_of
from harness.session import Session
from harness.slots import BERLIN, Slot, parse_z, workday_slot
from harness.target import TargetCompany

T = TypeVar("T")

#: The environment variable that switches defenses off for a scenario run (comma-separated).
DEFENSES_OFF_ENV = "CALHARNESS_DEFENSES_OFF"

#: A tenant as scenarios use it (`world.berlin.api_key`, `.id`, `.phone`, `.fallback_email`).
Company = TargetCompany


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


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FailpointHits:
    """The contexts a failpoint was reached in, read from the service when looked at."""

    def __init__(self, world: World, name: str) -> None:
        self._world = world
        self.name = name

    @property
    def hits(self) -> list[dict[str, Any]]:
        hits: list[dict[str, Any]] = []
        for control in self._world._controls():
            point = self._world.run(control.failpoints()).get(self.name)
            if point is not None:
                hits += point["hits"]
        return hits

    def __len__(self) -> int:
        return len(self.hits)

    def __bool__(self) -> bool:
        return bool(self.hits)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.hits)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.hits[index]


class FailpointBarrier:
    """A barrier at one or more failpoints, held on the fake's control plane (a rendezvous), so
    it spans processes and replicas: who arrived, whether all did, whether it timed out (the
    liveness fallback when the defense under test keeps the others out)."""

    def __init__(self, world: World, name: str) -> None:
        self._world = world
        self.name = name

    def _state(self) -> dict[str, Any]:
        points = self._world.fake.rendezvous()["rendezvous"]
        return dict(points.get(self.name) or {"arrived": [], "tripped": False,
                                              "timed_out": False})

    @property
    def arrived(self) -> list[dict[str, Any]]:
        return list(self._state()["arrived"])

    @property
    def tripped(self) -> bool:
        return bool(self._state()["tripped"])

    @property
    def timed_out(self) -> bool:
        return bool(self._state()["timed_out"])


class SharedClock:
    """The one time line of the service and Cal.com: both frozen and moved together. The
    service's clock links to the fake's, so a policy wait in the service moves both."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _fake(self) -> FakeControl:
        fake = self._world.session.fake
        assert fake is not None
        return fake

    def now(self) -> datetime:
        return self._world.now()

    def _both(self, **change: Any) -> None:
        self._world.need("clock")
        fake = self._fake()
        peer = f"{fake.base_url}/_fake/clock"
        for control in self._world._controls():
            self._world.run(control.clock(**change, peer=peer))
        if change.get("reset"):
            fake.reset_clock()
        if "freeze" in change:
            fake.freeze(change["freeze"])
        if "advance_s" in change:
            fake.advance(change["advance_s"])
        if change.get("unfreeze"):
            fake.unfreeze()

    def freeze(self, at: datetime | None = None) -> datetime:
        self._world.need("clock")
        instant = at if at is not None else self.now()
        if instant.tzinfo is None:
            raise ValueError("freeze needs an aware datetime")
        self._both(freeze=_iso(instant))
        return instant.astimezone(UTC)

    def advance(self, seconds: float) -> None:
        self._both(advance_s=seconds)

    def unfreeze(self) -> None:
        self._both(unfreeze=True)

    def reset(self) -> None:
        self._both(reset=True)


@dataclass
class World:
    session: Session
    recorder: HistoryRecorder
    driver: Driver
    day_offset: int = 0
    check_options: CheckOptions = field(default_factory=CheckOptions)
    judged: bool = False
    last_verdicts: list[Verdict] = field(default_factory=list)
    _barriers: int = 0
    #: The fake's request counts when the scenario began, where nothing resets them between
    #: scenarios (`requests_seen` counts from there).
    _requests_before: dict[str, int] | None = None

    # -- what this target offers -----------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[str]:
        return self.session.capabilities

    def has(self, *names: str) -> bool:
        return all(n in self.session.capabilities for n in names)

    def need(self, *names: str) -> None:
        self.session.need(*names)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 300) -> T:
        return self.session.run(coro, timeout)

    def _controls(self) -> list[TestControlClient]:
        return [c for c in (self.session.control, self.session.replica_control) if c is not None]

    def _control(self, capability: str) -> TestControlClient:
        self.need(capability)
        assert self.session.control is not None
        return self.session.control

    # -- tenants and time ------------------------------------------------------------------------

    @property
    def berlin(self) -> Company:
        """The tenant calls are routed to (the first practice)."""
        return self.session.companies["primary"]

    @property
    def hamburg(self) -> Company:
        """A second tenant, for the isolation scenarios."""
        self.need("second_tenant")
        return self.session.companies["secondary"]

    def now(self) -> datetime:
        """Now on Cal.com's clock (the fake's, which the service's follows), else real time."""
        fake = self.session.fake
        if fake is None:
            return datetime.now(UTC)
        return parse_z(str(fake.clock()["now"]))

    @property
    def clock(self) -> SharedClock:
        return SharedClock(self)

    def slot(self, days_ahead: int = 1, hour: int = 10, minute: int = 0) -> Slot:
        """A bookable slot `days_ahead` working days from today (on the shared clock), moved
        out to this scenario's own days when nothing resets the target between scenarios."""
        return workday_slot(self.now(), self.day_offset + days_ahead, hour, minute)

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock the fake and the service share: ages become exact, and the service's
        policy waits (backoff, rate-limit windows) move virtual time instead of sleeping. The
        next reset makes it real again. Only for scenarios whose callers take turns: with a
        frozen clock one caller's wait moves time for everyone mid-flight."""
        return self.clock.freeze(at)

    def freeze_if_possible(self, at: datetime | None = None) -> datetime | None:
        """`freeze` where the target has the shared clock; else leave both clocks real and
        return None. For scenarios the frozen clock only makes exact and fast: without it the
        service's backoff waits take their real (sub-second) time, and an age arranged through
        the fake (`take_slot(age_s=…)` back-dates `createdAt`) grows by the scenario's real
        running time. So it is safe only where no verdict turns on an exact age, a boundary or
        a policy wait (those need `clock`). The fake's clock is never frozen alone: the service
        would judge freshness on another time line than Cal.com's."""
        if not self.has("clock"):
            return None
        return self.freeze(at)

    # -- the upstream: the fake Cal.com ----------------------------------------------------------

    @property
    def fake(self) -> FakeControl:
        """The fake Cal.com's control plane (blocking client). Scenarios that change it through
        this declare the matching capability (faults, webhook_control)."""
        self.need("calcom_journal")
        fake = self.session.fake
        assert fake is not None
        return fake

    def arm(self, *faults: dict[str, Any]) -> list[str]:
        """Add faults to the fake's plan (docs/contracts.md §1.5; builders in harness.faults)."""
        self.need("faults")
        return [self.fake.add_fault(f) for f in faults]

    def fired(self, name: str) -> int:
        """How often the fault called `name` has fired."""
        return sum(int(f["fired"]) for f in self.fake.faults()["faults"] if f["name"] == name)

    def requests_seen(self, method: str, path: str) -> dict[int, int]:
        """How many `method path` requests the fake answered during this scenario, by HTTP
        status (where nothing resets the fake, counted from the scenario's start)."""
        counts: dict[int, int] = {}
        before = self._requests_before or {}
        for key, n in self.fake.stats()["requests"].items():
            verb, route, code = key.split(" ")
            n -= before.get(key, 0)
            if verb == method and route == path and n:
                counts[int(code)] = counts.get(int(code), 0) + n
        return counts

    def _calcom_state(self) -> dict[str, Any]:
        fake = self.session.fake
        if fake is None:
            raise MissingCapability("calcom_journal")
        state = fake.state()
        if not self.session.resets:
            window = self._window()
            state["bookings"] = [b for b in state["bookings"]
                                 if window is not None and window[0] <= parse_z(b["start"]) <= window[1]]
        return state

    def upstream(self, *, start: Slot | None = None, active: bool = True) -> list[dict[str, Any]]:
        """Cal.com's ground-truth bookings: active ones by default, optionally at one slot —
        where nothing resets the target, only those the judge counts as this scenario's
        (`_scope_truth`: an earlier run's cancelled booking at the same start is not)."""
        self.need("ground_truth")
        bookings = self._calcom_state()["bookings"]
        if not self.session.resets:
            truth = self.ground_truth()
            ours = {b.uid for b in truth.bookings} if truth is not None else set()
            bookings = [b for b in bookings if b["uid"] in ours]
        if active:
            bookings = [b for b in bookings if b["status"] in ("accepted", "pending")]
        if start is not None:
            bookings = [b for b in bookings if parse_z(b["start"]) == start.start_dt]
        return bookings

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """The fake's webhook delivery attempts (its state's JSON); where nothing resets the
        fake, only those of this scenario's bookings (as the judge scopes them)."""
        deliveries = list(self.fake.state()["webhook_deliveries"])
        if self.session.resets:
            return deliveries
        truth = self.ground_truth()
        ours = {b.uid for b in truth.bookings} if truth is not None else set()
        return [d for d in deliveries if d.get("bookingUid") in ours]

    def desk_cancel(self, uid: str, *, reason: str = "Abgesagt am Empfang") -> dict[str, Any]:
        """The host cancels booking `uid` at the front desk, through the fake's control plane:
        Cal.com's own cancel (status, reason, webhook), recorded as `outside-calcom` like
        `driver.outside_cancel`, but out of reach of armed faults — the harness's own action
        must not be the one a `hang` on cancel catches. Raises `FakeControlError` when Cal.com
        refuses (already cancelled: a scenario's mistake, not the service's)."""
        self.need("outside_changes")
        pending = self.recorder.invoke("outside-calcom", "cancel", None, None,
                                       {"booking_uid": uid, "by": "host", "desk": True})
        try:
            booking = dict(self.fake._call("POST", "/_fake/desk-cancel",
                                           {"uid": uid, "reason": reason}))
        except Exception as exc:
            pending.fail({"error": str(exc)})
            raise
        pending.ok({"status": "success", "data": booking})
        self.driver.gone.add(uid)
        return booking

    def settle(self) -> None:
        """Wait until the fake has attempted every queued webhook delivery."""
        if self.session.fake is not None and self.has("webhook_control"):
            self.session.fake.flush_webhooks()

    # -- the service, through its test control ---------------------------------------------------

    def defense_on(self, name: str) -> bool:
        """Whether the service runs with defense `name` on. Without test control we cannot know
        and assume it defends (a scenario expecting the defense then judges it)."""
        if not self.has("defenses"):
            return True
        control = self._control("defenses")
        return bool(self.run(control.describe())["defenses"].get(name, True))

    def barrier(self, failpoints: str | Iterable[str], parties: int = 2,
                timeout_s: float = 1.0) -> FailpointBarrier:
        """One barrier at one or more service failpoints (contract §2.5): whoever reaches any
        of them waits until `parties` have arrived, or `timeout_s` passed."""
        names = [failpoints] if isinstance(failpoints, str) else list(failpoints)
        self.need("failpoints", "calcom_journal")
        self._barriers += 1
        name = f"barrier-{self._barriers}"
        directive = {"action": "call", "url": f"{self.fake.base_url}/_fake/rendezvous/{name}",
                     "body": {"parties": parties, "timeout_s": timeout_s},
                     "with_context": True, "timeout_s": timeout_s + 30}
        for point in names:
            for control in self._controls():
                self.run(control.arm_failpoint(point, directive))
        return FailpointBarrier(self, name)

    def crash_at(self, failpoint: str, times: int = 1) -> FailpointHits:
        """Make the service die at `failpoint` the next `times` times it gets there — the way a
        process dies between "Cal.com said yes" and "the appointment is stored". The result
        lists the contexts it crashed in (read from the service when looked at)."""
        self.need("failpoints")
        for control in self._controls():
            self.run(control.arm_failpoint(failpoint, {"action": "crash", "times": times}))
        return FailpointHits(self, failpoint)

    def deliver_webhooks_at(self, failpoint: str) -> FailpointHits:
        """Whenever the service reaches `failpoint`, first let the fake deliver every queued
        webhook (and wait until the service has handled them): forces "the webhook overtakes
        the voice flow" instead of hoping for it."""
        self.need("failpoints", "webhook_control")
        url = f"{self.fake.base_url}/_fake/webhooks/flush"
        for control in self._controls():
            self.run(control.arm_failpoint(failpoint, {"action": "call", "url": url,
                                                       "body": {"timeout_s": 10.0}}))
        return FailpointHits(self, failpoint)

    def clear_failpoint(self, name: str | None = None) -> None:
        """Disarm one failpoint (or all)."""
        self.need("failpoints")
        for control in self._controls():
            self.run(control.disarm_failpoint(name))

    @contextlib.contextmanager
    def _setting(self, name: str, seconds: float, *, required: bool) -> Iterator[None]:
        if not self.has("service_settings") or name not in self.session.service.settings:
            if required:
                raise MissingCapability("service_settings")
            yield  # the service's own setting applies
            return
        controls = self._controls()
        before = [self.run(c.settings())[name] for c in controls]
        for control in controls:
            self.run(control.settings(**{name: seconds}))
        try:
            yield
        finally:
            for control, value in zip(controls, before, strict=True):
                self.run(control.settings(**{name: value}))

    def calcom_timeout(self, seconds: float = 0.25) -> contextlib.AbstractContextManager[None]:
        """Run with the service's Cal.com timeout at `seconds`, restored after: a scenario whose
        upstream hangs waits a fraction of a second. Without the knob the service's own
        timeout applies (the scenario takes longer, the verdict is the same)."""
        return self._setting("calcom_timeout_s", seconds, required=False)

    def caller_rate_limit_wait(self, seconds: float) -> contextlib.AbstractContextManager[None]:
        """Run with callers willing to wait `seconds` for Cal.com's rate-limit windows (the
        reference's phone policy is 5 s, then `rate_limited`), restored after."""
        return self._setting("caller_rate_limit_wait_s", seconds, required=True)

    def slot_lock_timeout(self, seconds: float) -> contextlib.AbstractContextManager[None]:
        """Run with the service's slot-lock timeout at `seconds` (30 s by default), restored
        after: a scenario exposing a starved lock holder then costs seconds, not thirty.
        Without the knob the service's own timeout applies (slower, the same verdict)."""
        return self._setting("slot_lock_timeout_s", seconds, required=False)

    @contextlib.contextmanager
    def replica(self) -> Iterator[Driver]:
        """A driver for the second instance of the service (same database, same fake Cal.com,
        same clock and failpoints) — two replicas behind a load balancer — recording into this
        world's history."""
        self.need("replica")
        url = self.session.target.replica_url
        assert url is not None
        driver = self.driver.for_service(url)
        try:
            yield driver
        finally:
            driver.close()

    @property
    def webhook_secret(self) -> str:
        """The secret the service checks Cal.com's webhook signatures with (to sign our own)."""
        self.need("webhook_secret")
        secret = self.session.service.webhook_secret
        assert secret is not None
        return secret

    def service_logs(self, since: int = 0) -> dict[str, Any]:
        """The service's log lines after `since` (``{"lines": [...], "last": n}``)."""
        return self.run(self._control("service_logs").logs(since))

    def service_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every service table, as its test control reports them (a scenario's
        database is small): for "the database is intact" after an attack."""
        return dict(self.run(self._control("service_state").state(rows=True))["rows"])

    # -- judging ---------------------------------------------------------------------------------

    def history(self) -> History:
        return self.recorder.history()

    def _window(self) -> tuple[datetime, datetime] | None:
        starts = sorted(parse_z(op.slot) for op in self.history().operations if op.slot)
        if not starts:
            return None
        return starts[0] - timedelta(hours=4), starts[-1] + timedelta(hours=4)

    def scenario_days(self) -> list[date]:
        """The Berlin days this scenario's history has touched so far (its slots ± 4 h)."""
        return self._days()

    def _days(self) -> list[date]:
        window = self._window()
        if window is None:
            return []
        first, last = (w.astimezone(BERLIN).date() for w in window)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def service_view(self) -> ServiceView | None:
        """What the service holds: everything, from its test control; else each tenant's
        appointments on the scenario's days through its API; else unknown (None)."""
        if self.has("service_state") and self.session.control is not None:
            state = self.run(self.session.control.state())
            return ServiceView.from_json(state["appointments"], audit_log=state["audit_log"],
                                         processed_webhooks=state["processed_webhooks"])
        if not self.has("appointments"):
            return None
        return ServiceView.from_json(self._listed(self.session.companies.values()))

    def appointments(self, company: Company | None = None) -> list[dict[str, Any]]:
        """A tenant's appointments (default: the first) as the service's API shows them,
        through the adapter's `appointments` on the scenario's days, scoped like `scoped`:
        "what the service shows" on any target, where the tenant read API (`driver.read`) is
        the reference's own."""
        self.need("appointments")
        return self._listed([company or self.berlin])

    def _listed(self, companies: Iterable[Company]) -> list[dict[str, Any]]:
        adapter = self.session.adapter
        assert adapter is not None

        async def read() -> list[dict[str, Any]]:
            seen: dict[Any, dict[str, Any]] = {}
            for company in companies:
                for day in self._days():
                    for item in await adapter.appointments(company, day):
                        seen[item["id"]] = item
            return list(seen.values())

        return self.scoped(self.run(read()))

    def made_for(self, booking: Mapping[str, Any]) -> str | None:
        """The call a Cal.com booking (its JSON) was made for, the way the adapter attributes
        bookings (the reference: `metadata.call_id`; others: the attendee's contact) — what a
        scenario compares with `driver.call_id(…)`, whatever the service writes into Cal.com."""
        return attributor(self.driver.attribution, self.history())(booking)

    def ground_truth(self) -> GroundTruth | None:
        """Cal.com's bookings, each attributed to a call the way the adapter says — where
        nothing resets the target, only this scenario's (see `_scope`)."""
        if not self.has("ground_truth"):
            return None
        attribute = attributor(self.driver.attribution, self.history())
        if self.session.fake is not None:
            truth = GroundTruth.from_json(self._calcom_state(), attribute=attribute)
        else:
            found = self.run(_real_calcom_truth(self.session, self._window(), attribute))
            if found is None:
                return None
            truth = found
        return truth if self.session.resets else self._scope_truth(truth)

    def _ours(self) -> tuple[set[str], set[str], set[int]]:
        """This scenario's calls, the booking uids its history names, and its slots' starts."""
        calls: set[str] = set()
        uids: set[str] = set()
        starts: set[int] = set()
        for op in self.history().operations:
            if op.call_id:
                calls.add(op.call_id)
            if op.slot and (start := instant(op.slot)) is not None:
                starts.add(start)
            for value in (op.answer, op.request):
                uid = booking_uid_of(value)
                if uid is not None:
                    uids.add(uid)
        return calls, uids, starts

    def _scope_truth(self, truth: GroundTruth) -> GroundTruth:
        """A shared target holds other runs' and real callers' bookings: judge only the ones
        made for this scenario's calls or named in its history (and the bookings rescheduled
        from or into them), plus every *active* booking at a slot it asked for — another
        booking there is exactly what a double booking is."""
        calls, uids, starts = self._ours()
        by_uid = {b.uid: b for b in truth.bookings}
        kept = {b.uid for b in truth.bookings
                if b.call_id in calls or b.uid in uids or (b.active and b.start_s in starts)}
        grown = True
        while grown:  # follow reschedule chains both ways
            grown = False
            for b in truth.bookings:
                if b.uid not in kept and ((b.rescheduled_from_uid in kept)
                                          or (b.rescheduled_to_uid in kept)):
                    kept.add(b.uid)
                    grown = True
        deliveries = None if truth.webhook_deliveries is None else [
            d for d in truth.webhook_deliveries if d.booking_uid in kept]
        return GroundTruth(bookings=[by_uid[u] for u in by_uid if u in kept],
                           webhook_deliveries=deliveries, now=truth.now)

    def scoped(self, appointments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The appointments (the read API's JSON) that are this scenario's: all of them when
        the target was reset for it; else those of its calls, of bookings its history names,
        or active at a slot it asked for (a shared target holds other runs' too)."""
        items = [dict(a) for a in appointments]
        if self.session.resets:
            return items
        calls, uids, starts = self._ours()
        truth = self.ground_truth()
        if truth is not None:
            uids |= {b.uid for b in truth.bookings}
        return [a for a in items if a.get("call_id") in calls or a.get("booking_uid") in uids
                or (a.get("status") in ("scheduled", "pending")
                    and instant(a.get("start")) in starts)]

    def _left_upstream(self) -> list[tuple[str, str]]:
        """The active bookings on the fake in this scenario's scope that no appointment the
        driver still holds accounts for (outside bookings, slot steals, moves made in Cal.com),
        with the key to cancel them with: the run's clean-up cancels them in Cal.com."""
        if self.session.fake is None or not self.has("outside_changes", "ground_truth"):
            return []
        truth = self.ground_truth()
        if truth is None:
            return []
        held = {self.driver.booking_uids.get(r.appointment_id) for r in self.driver.booked
                if r.appointment_id is not None}
        return [(b.uid, self.driver.calcom_api_key) for b in truth.bookings
                if b.active and b.uid not in held]

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


async def _real_calcom_truth(session: Session, window: tuple[datetime, datetime] | None,
                             attribute: Callable[[Mapping[str, Any]], str | None]
                             ) -> GroundTruth | None:
    """The real Cal.com's bookings around the scenario's slots, read-only."""
    import aiohttp

    target = session.target
    if window is None or not target.calcom_api_url or not target.calcom_api_key:
        return None
    bookings = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http, http.get(
            f"{target.calcom_api_url}/v2/bookings",
            params={"afterStart": _iso(window[0]), "beforeEnd": _iso(window[1]), "take": "250"},
            headers={"Authorization": f"Bearer {target.calcom_api_key}",
                     "cal-api-version": "2024-08-13"}) as resp:
        body = await resp.json()
    for b in body.get("data", []):
        bookings.append({**b, "hostIds": [h.get("id") for h in b.get("hosts", [])],
                         "origin": {"kind": "api" if attribute(b) else "outside"}})
    return GroundTruth.from_json({"now": None, "bookings": bookings, "webhook_deliveries": []},
                                 attribute=attribute)


@contextlib.contextmanager
def world_for(session: Session, *, defenses_off: Iterable[str] | None = None,
              judge: bool = True) -> Iterator[World]:
    """A clean world on `session` for one scenario (both halves reset when the target can;
    else the fake's faults cleared and the scenario moved to days of its own); judges it at
    the end unless told not to (or unless the scenario already did)."""
    off = session.defenses_off if defenses_off is None else tuple(defenses_off)
    if session.resets:
        session.run(session.reset_service(off))
    elif session.fake is not None and "faults" in session.capabilities:
        session.run(_clear_upstream(session.fake.base_url))
    recorder = HistoryRecorder()
    offset = session.next_day_offset()
    # Where nothing resets the target, every call id carries the run's id (safety rail) and
    # the scenario's first day offset, so no two scenarios share a call (a call's second
    # booking would be answered with its first: already_booked).
    driver = Driver(session, recorder, call_id_prefix="" if session.resets
                    else f"{session.target.run_id}-d{offset}-")
    world = World(session=session, recorder=recorder, driver=driver, day_offset=offset)
    if not session.resets:
        now = world.now()  # the scenario's days: up to the next scenario's first one
        driver.reconcile_window = (workday_slot(now, offset + 1, 0).start_dt,
                                   workday_slot(now, offset + 5, 0).start_dt)
        if session.fake is not None:
            world._requests_before = dict(session.fake.stats()["requests"])
    try:
        yield world
        if judge and not world.judged:
            world.judge()
    finally:
        if not session.resets:
            session.booked.extend(driver.booked)
            session.booking_uids.update(driver.booking_uids)
            session.gone |= driver.gone
            session.upstream_left += world._left_upstream()
        driver.close()
        recorder.close()


async def _clear_upstream(fake_url: str) -> None:
    async with AsyncFakeControl(fake_url) as fake:
        await fake.clear_faults()
        await fake.hold_webhooks(False)
