"""The phone-call flow against the real embedded stack, and the judge that decides a load run.

Interleavings are forced, not waited for: the caller's talk time is a callback (``sleep``) in
which the test lets another caller act — the incident's 14-second gap without waiting 14 s.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from load_exchange import HttpExchange

from harness.history import History, HistoryRecorder
from harness.slots import BERLIN, Slot, workday_slot
from harness.stack import EmbeddedStack
from loadtests.caller import (
    BOOKED,
    ERROR,
    GAVE_UP,
    Call,
    CallerTiming,
    CallResult,
    OutcomeCounter,
    Reply,
    run_call,
)
from loadtests.distributions import Distribution
from loadtests.judge import Target, judge_invariants

TIMING = CallerTiming(Distribution.fixed(14.0), Distribution.fixed(5.0), max_attempts=3)


def call_for(slot: Slot, n: int, *, service: str = "Beratung") -> Call:
    return Call(call_id=f"test-call-{n}", process=f"caller-{n}", service=service, wanted=slot,
                name=f"Anrufer {n}", telefon=f"+4915100000{n:03d}", to_number="+4930123456")


def tomorrow(stack: EmbeddedStack, hour: int = 10) -> Slot:
    return workday_slot(stack.clock.now(), 1, hour)


class Talk:
    """The caller's pauses: recorded, never slept; optionally someone else acts meanwhile."""

    def __init__(self, meanwhile: Callable[[], Any] | None = None) -> None:
        self.pauses: list[float] = []
        self.meanwhile = meanwhile

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if self.meanwhile is not None and len(self.pauses) == 1:
            self.meanwhile()


def ops(history: History, f: str) -> list[Any]:
    return [op for op in history.operations if op.f == f]


def test_a_free_slot_is_booked_after_the_talk(stack: EmbeddedStack,
                                              exchange: HttpExchange) -> None:
    recorder = HistoryRecorder(worker="w0")
    talk = Talk()
    result = run_call(call_for(tomorrow(stack), 1), exchange, recorder, TIMING,
                      random.Random(0), sleep=talk)
    assert result.outcome == BOOKED
    assert result.attempts == 1
    assert talk.pauses == [14.0]
    history = recorder.history()
    assert [(op.f, op.type, op.status) for op in history.operations] == [
        ("check", "ok", "available"), ("collect", "ok", "booked")]
    assert history.operations[0].process == "w0:caller-1"


def test_slot_taken_during_the_talk_takes_an_offered_alternative(
        stack: EmbeddedStack, exchange: HttpExchange) -> None:
    """The incident's race: free at the check, gone at the collect → alternative, booked."""
    recorder = HistoryRecorder(worker="w0")
    slot = tomorrow(stack)
    # another caller books the same slot while the first one talks
    talk = Talk(lambda: run_call(call_for(slot, 2), exchange, recorder, TIMING,
                                 random.Random(1), sleep=lambda _s: None))
    result = run_call(call_for(slot, 1), exchange, recorder, TIMING, random.Random(0),
                      sleep=talk)
    assert result.outcome == BOOKED
    assert result.attempts == 2
    assert result.slot != slot.start
    assert result.statuses == ["check:available", "collect:slot_taken", "collect:booked"]
    assert talk.pauses == [14.0, 5.0]
    collects = [op for op in ops(recorder.history(), "collect") if op.call_id == "test-call-1"]
    assert [(op.type, op.status) for op in collects] == [("fail", "slot_taken"), ("ok", "booked")]


def test_an_unavailable_slot_is_replaced_before_the_talk(stack: EmbeddedStack,
                                                         exchange: HttpExchange) -> None:
    recorder = HistoryRecorder(worker="w0")
    slot = tomorrow(stack)
    assert run_call(call_for(slot, 1), exchange, recorder, TIMING, random.Random(0),
                    sleep=lambda _s: None).outcome == BOOKED
    result = run_call(call_for(slot, 2), exchange, recorder, TIMING, random.Random(0),
                      sleep=lambda _s: None)
    assert result.outcome == BOOKED
    assert result.statuses[:2] == ["check:unavailable", "collect:booked"]
    assert result.slot != slot.start


def test_a_caller_gives_up_after_max_attempts(stack: EmbeddedStack,
                                              exchange: HttpExchange) -> None:
    recorder = HistoryRecorder(worker="w0")
    slot = tomorrow(stack)
    once = CallerTiming(TIMING.think, TIMING.retry_think, max_attempts=1)
    talk = Talk(lambda: run_call(call_for(slot, 2), exchange, recorder, TIMING,
                                 random.Random(1), sleep=lambda _s: None))
    result = run_call(call_for(slot, 1), exchange, recorder, once, random.Random(0), sleep=talk)
    assert (result.outcome, result.reason, result.attempts) == (GAVE_UP, "attempts_exhausted", 1)


def test_unknown_outcomes_are_info_and_errors_end_the_call() -> None:
    slot = Slot(datetime(2025, 10, 21, 10, 0, tzinfo=BERLIN))
    answers = iter([Reply(200, {"status": "available", "success": True}), Reply(None,
                                                                                error="timeout")])
    recorder = HistoryRecorder(worker="w0")
    result = run_call(call_for(slot, 1), lambda *_: next(answers), recorder, TIMING,
                      random.Random(0), sleep=lambda _s: None)
    assert (result.outcome, result.reason) == (ERROR, "transport:timeout")
    assert [op.type for op in recorder.history().operations] == ["ok", "info"]

    for reply, reason in ((Reply(502, "<html>"), "http:502"),
                          (Reply(200, {"status": "upstream_unavailable"}),
                           "status:upstream_unavailable")):
        recorder = HistoryRecorder(worker="w0")
        result = run_call(call_for(slot, 1), lambda *_, r=reply: r, recorder, TIMING,
                          random.Random(0), sleep=lambda _s: None)
        assert (result.outcome, result.reason) == (ERROR, reason)
        assert recorder.history().operations[0].type == "info"


def test_outcome_counters_add_up_across_workers() -> None:
    a, b = OutcomeCounter(), OutcomeCounter()
    a.add(CallResult(BOOKED, BOOKED, 1.0, 1, ["check:available", "collect:booked"]))
    b.add(CallResult(GAVE_UP, "no_alternative", 2.0, 0, ["check:unavailable"]))
    a.merge_json(b.to_json())
    assert a.outcomes == {BOOKED: 1, GAVE_UP: 1}
    assert a.statuses["check:unavailable"] == 1
    assert a.attempts == {1: 1, 0: 1}


@pytest.mark.parametrize("defenses_off", [(), ("slot_lock", "availability_double_check")],
                         ids=["defenses-on", "slot-defenses-off"])
def test_the_judge_finds_a_double_booking_only_when_the_defenses_are_off(
        stack: EmbeddedStack, exchange: HttpExchange, tmp_path: Path,
        defenses_off: tuple[str, ...]) -> None:
    """Two callers check the same free slot, then both collect; Cal.com accepts overlapping
    bookings (overbook). The service's defenses must refuse the second caller; without them the
    judge — reading the history files, the service's test control and Cal.com's ground truth as
    the Locust master does — reports the double booking."""
    stack.reset(defenses_off)
    stack.control.add_fault({"name": "overbook", "match": {"method": "POST",
                                                           "path": "/v2/bookings"},
                             "action": {"kind": "overbook"}})
    slot = tomorrow(stack, 14)
    recorder = HistoryRecorder.for_worker(tmp_path / "histories", "w0", keep=False)
    second = Talk(lambda: None)
    first = Talk(lambda: run_call(call_for(slot, 2), exchange, recorder, TIMING,
                                  random.Random(1), sleep=second))
    # caller 1 checks; during its talk caller 2 checks the same (still free) slot and books it;
    # then caller 1 collects the slot caller 2 took
    run_call(call_for(slot, 1), exchange, recorder, TIMING, random.Random(0), sleep=first)
    recorder.close()
    judgement = judge_invariants(tmp_path, Target(service_url=stack.service_url,
                                                  fake_url=stack.fake_url,
                                                  control_url=stack.service_url,
                                                  control_token=stack.token),
                                 expected_workers={"w0"})
    assert judgement.judged, judgement.problems
    assert (tmp_path / "history.jsonl").is_file()
    violated = {v["name"] for v in judgement.violated}
    if defenses_off:
        assert "host-slot-exclusive" in violated
    else:
        assert violated == set()
        assert len(judgement.verdicts) >= 5


def test_the_judge_refuses_to_pass_a_run_with_a_missing_worker_history(
        stack: EmbeddedStack, tmp_path: Path) -> None:
    HistoryRecorder.for_worker(tmp_path / "histories", "w0", keep=False).close()
    judgement = judge_invariants(tmp_path, Target(service_url=stack.service_url,
                                                  fake_url=stack.fake_url,
                                                  company_keys=("bs_demo_berlin",)),
                                 expected_workers={"w0", "w1"})
    assert not judgement.judged
    assert "w1" in judgement.problems[0]
    unreachable = judge_invariants(tmp_path, Target(service_url="http://127.0.0.1:9",
                                                    company_keys=("k",)), {"w0"}, settle_s=0)
    assert not unreachable.judged
    assert "could not read" in unreachable.problems[0]
