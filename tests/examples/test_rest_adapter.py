"""The REST example's adapter, against the running service: each translation, and the harness's
checkers judging through it — naive guilty of what it does, careful clean."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rest_support import ADA, BOB, LATER, SLOT, Service, StartService

from examples.rest_booking.adapter import RestBookingAdapter
from harness.adapters import Adapter, AdapterContext, Request, load_adapter_class
from harness.checks import GroundTruth, ServiceView, run_all
from harness.checks.attribution import attributor
from harness.checks.verdict import (
    DOUBLE_BOOKING,
    DRIFT,
    DUPLICATE_BOOKING,
    LOST_BOOKING,
    SECOND_UPSTREAM_BOOKING,
    STOLEN_BOOKING,
    TOLD_MISMATCH,
    UNCLEAR_ANSWER,
)
from harness.clients.service import Answer
from harness.history import HistoryRecorder
from harness.slots import BERLIN, Slot, parse_z
from harness.target import load_target, parse_target

TARGET_FILE = Path(__file__).parents[2] / "examples" / "rest_booking" / "target.toml"
DAY = date(2026, 3, 3)
CREATE = {"method": "POST", "path": "/v2/bookings"}


def slot(start: str) -> Slot:
    return Slot(parse_z(start).astimezone(BERLIN))


def adapter_for(url: str, http: aiohttp.ClientSession, **settings: Any) -> RestBookingAdapter:
    target = parse_target({"service_url": url, "adapter": str(load_target(TARGET_FILE).adapter),
                           "allow_booking": True, "allow_faults": True,
                           "companies": {"primary": {"api_key": "unused"}},
                           "calcom": {"control_url": "http://127.0.0.1:8788"},
                           "adapter_settings": settings}, "test")
    cls = load_adapter_class(target.adapter)
    return cls(AdapterContext(target, http, target.adapter_settings))


def adapter_company() -> Any:
    return load_target(TARGET_FILE).primary


def collect(call_id: str, start: str, name: str, phone: str, **kw: Any) -> Request:
    return Request("collect", call_id, slot=slot(start), name=name, phone=phone,
                   service="Beratung", **kw)


def test_the_target_file_names_this_adapter() -> None:
    target = load_target(TARGET_FILE)
    assert load_adapter_class(target.adapter) is RestBookingAdapter
    assert (target.allow_faults, target.calcom_control_url) == (True, "http://127.0.0.1:8788")
    assert RestBookingAdapter.attribution.describe() == "attendee phone"


async def test_unknown_settings_are_refused(start_service: StartService) -> None:
    service = await start_service("careful")
    with pytest.raises(ValueError, match="timeout"):
        adapter_for(service.url, service.http, timeuot_s=3)


async def test_each_operation_in_harness_words(start_service: StartService, calcom: Any) -> None:
    service = await start_service("careful")
    adapter = adapter_for(service.url, service.http)
    assert isinstance(adapter, Adapter)

    check = await adapter.check(Request("check", "c1", slot=slot(SLOT)))
    assert (check.http_status, check.status, check.body["success"]) == (200, "available", True)
    dry = await adapter.book(collect("c1", SLOT, "Ada", ADA, confirm=False))
    assert dry.status == "available"
    assert calcom.control.state()["bookings"] == []

    booked = await adapter.book(collect("c1", SLOT, "Ada", ADA))
    [upstream] = calcom.control.state()["bookings"]
    assert (booked.http_status, booked.status, booked.success) == (201, "booked", True)
    assert booked.body["booking_uid"] == upstream["uid"] == booked.raw["calcom_uid"]
    assert booked.body["start"] == SLOT
    again = await adapter.book(collect("c1", SLOT, "Ada", ADA))
    assert (again.status, again.body["reason"]) == ("booked", "already_booked")
    assert again.body["appointment_id"] == booked.body["appointment_id"]

    taken = await adapter.book(collect("c2", SLOT, "Bob", BOB))
    assert (taken.status, taken.success) == ("slot_taken", False)
    assert taken.body["alternatives"]

    moved = await adapter.reschedule(Request("reschedule", "c1", new_slot=slot(LATER),
                                             appointment_id=booked.body["appointment_id"]))
    assert (moved.status, moved.success, moved.body["start"]) == ("rescheduled", True, LATER)
    assert moved.body["booking_uid"] != booked.body["booking_uid"]
    rows = await adapter.appointments(adapter_company(), DAY)
    assert [(a["booking_uid"], a["status"], a["call_id"], a["host_id"]) for a in rows] == [
        (moved.body["booking_uid"], "scheduled", None, 101),
        (booked.body["booking_uid"], "rescheduled", None, None)]
    assert len({a["id"] for a in rows}) == 2

    # no appointment id: the adapter finds the caller's booking by phone and slot
    cancelled = await adapter.cancel(Request("cancel", "c1", slot=slot(LATER), phone=ADA))
    assert (cancelled.status, cancelled.success) == ("cancelled", True)
    missing = await adapter.cancel(Request("cancel", "c1", slot=slot(SLOT), phone=BOB))
    assert (missing.status, missing.success) == ("not_found", False)
    assert await adapter.appointments(adapter_company(), date(2026, 3, 4)) == []


async def test_no_answer_and_5xx_are_unknown(start_service: StartService, calcom: Any) -> None:
    async with aiohttp.ClientSession() as http:
        closed = adapter_for("http://127.0.0.1:9", http)
        answer = await closed.book(collect("c1", SLOT, "Ada", ADA))
    assert (answer.http_status, answer.status, answer.success) == (None, "error", False)

    # careful cannot find out: every create hangs before Cal.com handles it → 504 unconfirmed
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "always"},
                              "action": {"kind": "hang", "phase": "before"}})
    service = await start_service("careful", calcom_timeout_s=0.2, create_attempts=1)
    answer = await adapter_for(service.url, service.http).book(collect("c1", SLOT, "Ada", ADA))
    assert (answer.http_status, answer.status) == (504, "error")
    assert answer.raw["error"] == "booking_unconfirmed"


# -- judged by the harness's checkers --------------------------------------------------------


@dataclass
class Judge:
    """A minimal driver: records each request and its translated answer as the harness does,
    then runs every checker over the history, the adapter's view and Cal.com's ground truth."""

    adapter: RestBookingAdapter
    calcom: Any
    recorder: HistoryRecorder

    async def book(self, request: Request) -> Answer:
        pending = self.recorder.invoke(request.call_id, request.f, request.call_id,
                                       request.slot.start if request.slot else None,
                                       request.record())
        answer = await self.adapter.book(request)
        if answer.http_status is None or answer.http_status >= 500:
            pending.info({"http_status": answer.http_status, "body": answer.body})
        else:
            pending.answer(answer.body)
        return answer

    async def violations(self) -> set[str]:
        history = self.recorder.history()
        view = ServiceView.from_json(await self.adapter.appointments(adapter_company(), DAY))
        truth = GroundTruth.from_json(self.calcom.control.state(),
                                      attribute=attributor(self.adapter.attribution, history))
        return {v.kind for verdict in run_all(history, view, truth) for v in verdict.violations}


def stale_replay(calcom: Any) -> None:
    calcom.control.take_slot(2002, SLOT, {"name": "Outside Booker",
                                          "email": "outside@example.com"}, age_s=3600)
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "always"},
                              "action": {"kind": "stale_replay", "key": "start"}})


def answers_lost(calcom: Any) -> None:
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "always"},
                              "action": {"kind": "reset", "phase": "after"}})


def resend_overbooks(calcom: Any) -> None:
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "first", "k": 1},
                              "action": {"kind": "status", "status": 503, "phase": "after"}})
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "nth", "n": 2},
                              "action": {"kind": "overbook"}})


@pytest.mark.parametrize(("arrange", "naive_guilty_of"), [
    # its row names Ada, the booking the outsider (Ada was told of the outsider's booking)
    (stale_replay, {STOLEN_BOOKING, DRIFT, TOLD_MISMATCH}),
    (answers_lost, {LOST_BOOKING, UNCLEAR_ANSWER}),  # naive reads the exception out to the caller
    (resend_overbooks, {DUPLICATE_BOOKING, DOUBLE_BOOKING, LOST_BOOKING, SECOND_UPSTREAM_BOOKING}),
])
@pytest.mark.parametrize("mode", ["naive", "careful"])
async def test_the_checkers_see_what_naive_does(mode: str, arrange: Any,
                                                naive_guilty_of: set[str],
                                                start_service: StartService, calcom: Any) -> None:
    arrange(calcom)
    service: Service = await start_service(mode)
    judge = Judge(adapter_for(service.url, service.http), calcom, HistoryRecorder())
    await judge.book(collect("call_ada", SLOT, "Ada", ADA))
    assert await judge.violations() == (naive_guilty_of if mode == "naive" else set())


@pytest.mark.parametrize(("mode", "guilty_of"), [("naive", {DOUBLE_BOOKING}), ("careful", set())])
async def test_the_checkers_see_a_race(mode: str, guilty_of: set[str],
                                       start_service: StartService, calcom: Any) -> None:
    """Two callers at once, both creates let through Cal.com's check together (the barrier)."""
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "always"}, "action": {
        "kind": "barrier", "parties": 2, "timeout_ms": 300, "key": "attendee"}})
    service = await start_service(mode)
    judge = Judge(adapter_for(service.url, service.http), calcom, HistoryRecorder())
    await asyncio.gather(judge.book(collect("call_ada", SLOT, "Ada", ADA, email="a@example.com")),
                         judge.book(collect("call_bob", SLOT, "Bob", BOB, email="b@example.com")))
    assert await judge.violations() == guilty_of
