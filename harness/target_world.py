"""The black-box world: scenarios against an external deployment described by a target file.

It offers the part of `harness.world.World` a black-box scenario may use (driver, slots,
tenants, judge). What a real deployment cannot offer — fault injection, the virtual clock,
failpoints, outside bookings through a control plane — is not here, and the scenarios that need
it are marked ``embedded_only`` and skipped.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp

from harness.checks import CheckOptions, GroundTruth, ServiceView, Verdict, assert_ok, run_all
from harness.clients.service import Answer, ServiceClient
from harness.driver import Driver
from harness.history import History, HistoryRecorder
from harness.slots import BERLIN, Slot, slot_on
from harness.target import Target, TargetCompany

T = TypeVar("T")


class BudgetExceeded(RuntimeError):
    """The run would send more requests than the target file allows."""


class BudgetedServiceClient(ServiceClient):
    """Counts every request against the target's budget and refuses bookings when not allowed."""

    def __init__(self, session: TargetSession) -> None:
        super().__init__(session.target.service_url)
        self._session_state = session

    async def request(self, method: str, path: str, **kw: Any) -> Answer:
        self._session_state.spend(path)
        return await super().request(method, path, **kw)


class TargetSession:
    """One run against a target: its own event loop thread, request budget and clean-up list."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.requests = 0
        self._lock = threading.Lock()
        # (call id, appointment id, number dialled) of what the run booked, cancelled at the end
        # through the same line (the tenant is the branch whose number was called)
        self.booked: list[tuple[str, int, str | None]] = []
        self._scenarios = itertools.count()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="calharness-target")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spend(self, path: str) -> None:
        with self._lock:
            if self.requests >= self.target.max_requests:
                raise BudgetExceeded(
                    f"request budget of {self.target.max_requests} reached (raise max_requests "
                    f"in the target file to allow more)")
            if path.endswith("/collect-appointment") and not self.target.allow_booking:
                raise BudgetExceeded("the target file does not allow booking "
                                     "(set allow_booking = true to run booking scenarios)")
            self.requests += 1

    def next_day_offset(self) -> int:
        """Each scenario books on its own days, far from real callers and from each other."""
        return self.target.days_ahead + 4 * next(self._scenarios)

    def clean_up(self) -> list[str]:
        """Cancel every appointment the run booked; returns what could not be cancelled."""
        problems: list[str] = []

        async def cancel_all() -> None:
            async with ServiceClient(self.target.service_url) as client:
                for call_id, appointment_id, dialled in self.booked:
                    answer = await client.cancel_appointment(
                        {"call_id": call_id, "appointment_id": appointment_id,
                         "grund": f"calharness run {self.target.run_id} clean-up"},
                        to_number=dialled or self.target.primary.phone)
                    if answer.status not in ("cancelled", "already_cancelled"):
                        problems.append(f"appointment {appointment_id}: {answer.body or answer.error}")

        self.run(cancel_all())
        return problems

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


@dataclass
class TargetWorld:
    session: TargetSession
    recorder: HistoryRecorder
    driver: Driver
    day_offset: int
    check_options: CheckOptions = field(default_factory=CheckOptions)
    judged: bool = False
    last_verdicts: list[Verdict] = field(default_factory=list)

    @property
    def target(self) -> Target:
        return self.session.target

    @property
    def berlin(self) -> TargetCompany:
        return self.target.primary

    @property
    def hamburg(self) -> TargetCompany:
        secondary = self.target.secondary
        if secondary is None:
            import pytest

            pytest.skip("the target file names no [companies.secondary] tenant")
        return secondary

    def slot(self, days_ahead: int = 1, hour: int = 10, minute: int = 0) -> Slot:
        from harness.slots import next_workday

        today = datetime.now(BERLIN).date()
        return slot_on(next_workday(today, self.day_offset + days_ahead), hour, minute)

    def settle(self) -> None:
        """Nothing to wait for: a real Cal.com delivers webhooks when it does."""

    def history(self) -> History:
        return self.recorder.history()

    def verdicts(self, options: CheckOptions | None = None) -> list[Verdict]:
        history = self.history()
        starts = sorted({op.slot for op in history.operations if op.slot})
        service = self.session.run(_service_view(self.target, starts))
        truth = self.session.run(_ground_truth(self.target, starts))
        return run_all(history, service, truth, options=options or self.check_options)

    def judge(self, options: CheckOptions | None = None) -> list[Verdict]:
        self.judged = True
        self.last_verdicts = self.verdicts(options)
        assert_ok(self.last_verdicts)
        return self.last_verdicts


@contextmanager
def target_world(session: TargetSession) -> Iterator[TargetWorld]:
    recorder = HistoryRecorder()
    driver = Driver(session.target.service_url, recorder, session.run,
                    call_id_prefix=f"{session.target.run_id}-",
                    service_factory=lambda: BudgetedServiceClient(session),
                    to_number=session.target.primary.phone)
    world = TargetWorld(session, recorder, driver, session.next_day_offset())
    try:
        yield world
    finally:
        for op in recorder.history().operations:
            answer = op.answer
            if op.f == "collect" and op.type == "ok" and isinstance(answer, dict) \
                    and answer.get("appointment_id") and op.call_id:
                dialled = op.request.get("to_number") if isinstance(op.request, dict) else None
                session.booked.append((op.call_id, int(answer["appointment_id"]), dialled))
        driver.close()
        recorder.close()


def _window(starts: list[str]) -> tuple[str, str] | None:
    if not starts:
        return None
    first = datetime.fromisoformat(starts[0].replace("Z", "+00:00")) - timedelta(hours=4)
    last = datetime.fromisoformat(starts[-1].replace("Z", "+00:00")) + timedelta(hours=4)
    return first.strftime("%Y-%m-%dT%H:%M:%SZ"), last.strftime("%Y-%m-%dT%H:%M:%SZ")


async def _service_view(target: Target, starts: list[str]) -> ServiceView:
    """Appointments on the scenario's days, through each tenant's read API (no database)."""
    days = sorted({datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(BERLIN)
                   .date().isoformat() for s in starts})
    seen: dict[Any, dict[str, Any]] = {}
    async with ServiceClient(target.service_url) as client:
        for company in target.companies.values():
            for day in days:
                answer = await client.list_appointments(company.api_key, date=day, limit="1000")
                if answer.http_status == 200 and isinstance(answer.body, dict):
                    for item in answer.body.get("appointments", []):
                        seen[item["id"]] = item
    return ServiceView.from_json(seen.values())


async def _ground_truth(target: Target, starts: list[str]) -> GroundTruth | None:
    """Cal.com's bookings around the scenario's slots: from a fake's control plane when the
    deployment runs against one, else read-only from the real API, else unknown (skipped)."""
    window = _window(starts)
    if window is None:
        return None
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        if target.calcom_control_url:
            async with http.get(f"{target.calcom_control_url}/_fake/state") as resp:
                state = await resp.json()
            state["bookings"] = [b for b in state.get("bookings", [])
                                 if window[0] <= b["start"][:19] + "Z" <= window[1]]
            return GroundTruth.from_json(state)
        if target.calcom_api_url and target.calcom_api_key:
            bookings = []
            async with http.get(f"{target.calcom_api_url}/v2/bookings",
                                params={"afterStart": window[0], "beforeEnd": window[1],
                                        "take": "250"},
                                headers={"Authorization": f"Bearer {target.calcom_api_key}",
                                         "cal-api-version": "2024-08-13"}) as resp:
                body = await resp.json()
            for b in body.get("data", []):
                metadata = b.get("metadata") or {}
                bookings.append({**b, "hostIds": [h.get("id") for h in b.get("hosts", [])],
                                 "origin": {"kind": "api" if metadata.get("call_id")
                                            else "outside"}})
            return GroundTruth.from_json({"now": None, "bookings": bookings,
                                          "webhook_deliveries": []})
    return None
