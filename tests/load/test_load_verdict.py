"""The master's verdict from Locust's numbers: thresholds (scaled by the time factor), invariants,
and the exit code that carries them; the summary as `reports.LoadSummary`."""

from __future__ import annotations

from typing import Any

import pytest

from calharness.commands.load import load_summary
from loadtests.caller import BOOKED, GAVE_UP, CallResult, OutcomeCounter
from loadtests.judge import (
    EXIT_INVARIANT,
    EXIT_OK,
    EXIT_THRESHOLD,
    EXIT_UNJUDGED,
    Judgement,
    LoadConfig,
    Target,
    evaluate,
)
from loadtests.profile import SMOKE, LoadProfile


def stats(p95_flow_ms: float | None, failures: int = 0, requests: int = 100) -> dict[str, Any]:
    flow = {"name": "booking_flow", "method": "FLOW", "num_requests": 0 if p95_flow_ms is None
            else 20, "num_failures": 0, "p50_ms": p95_flow_ms and p95_flow_ms / 2,
            "p95_ms": p95_flow_ms, "p99_ms": p95_flow_ms, "avg_ms": 1.0, "max_ms": 1.0,
            "rps": 1.0}
    return {"entries": [flow], "total": {"num_requests": requests, "num_failures": failures,
                                         "rps": 5.0}}


def counter(booked_s: float = 1.0) -> OutcomeCounter:
    c = OutcomeCounter()
    for _ in range(8):
        c.add(CallResult(BOOKED, BOOKED, booked_s, 1))
    c.add(CallResult(GAVE_UP, "no_alternative", 1.0, 0))
    return c


def ok_judgement() -> Judgement:
    return Judgement(verdicts=[{"name": "host-slot-exclusive", "ok": True, "checked": 3,
                                "skipped": None, "violations": 0, "kinds": [], "examples": []}])


def verdict(profile: LoadProfile, stats_: dict[str, Any],
            judgement: Judgement | None = None,
            calls: OutcomeCounter | None = None) -> dict[str, Any]:
    return evaluate(profile, stats_, calls or counter(), judgement or ok_judgement(),
                    {"status_429": 7}, users=10, workers=2, elapsed_s=60.0)


@pytest.mark.parametrize(("booked_s", "code"), [(4.4, EXIT_OK), (4.5, EXIT_OK),
                                                (4.6, EXIT_THRESHOLD)])
def test_p95_target_is_scaled_by_the_time_factor(booked_s: float, code: int) -> None:
    summary = verdict(SMOKE, stats(1000), calls=counter(booked_s))  # factor 10: 45 s → 4.5 s
    assert summary["exit_code"] == code
    assert summary["booked_flow"]["target_s"] == 4.5
    assert summary["booked_flow"]["unscaled_p95_s"] == pytest.approx(booked_s * 10)
    assert summary["flow"]["unscaled_p95_s"] == pytest.approx(10.0)  # every call, as Locust saw


def test_the_target_is_judged_on_the_calls_that_booked() -> None:
    """Refusals end in milliseconds: a run whose every call but the booked ones was refused at
    once has a tiny p95 over all calls. The target is about booking, so the booked ones decide."""
    fast_refusals = verdict(SMOKE, stats(5), calls=counter(9.0))
    assert fast_refusals["flow"]["p95_s"] == 0.005
    assert fast_refusals["booked_flow"]["p95_s"] == 9.0
    assert fast_refusals["exit_code"] == EXIT_THRESHOLD
    nobody_booked = OutcomeCounter()
    nobody_booked.add(CallResult(GAVE_UP, "no_alternative", 0.1, 0))
    none = verdict(SMOKE, stats(100), calls=nobody_booked)
    assert none["exit_code"] == EXIT_THRESHOLD
    assert next(t for t in none["thresholds"] if t["name"] == "p95 booking_flow")["note"] == \
        "no call booked"


def test_failure_ratio_threshold() -> None:
    assert verdict(SMOKE, stats(1000, failures=5))["exit_code"] == EXIT_OK
    missed = verdict(SMOKE, stats(1000, failures=6))
    assert missed["exit_code"] == EXIT_THRESHOLD
    assert not next(t for t in missed["thresholds"] if t["name"] == "failure ratio")["ok"]


def test_an_invariant_violation_fails_even_a_fast_run_and_not_judged_is_no_pass() -> None:
    bad = Judgement(verdicts=[{"name": "host-slot-exclusive", "ok": False, "checked": 3,
                               "skipped": None, "violations": 1, "kinds": ["double-booking"],
                               "examples": ["2 active Cal.com bookings hold host 101"]}])
    assert verdict(SMOKE, stats(1000), bad)["exit_code"] == EXIT_INVARIANT
    assert verdict(SMOKE, stats(9000), bad)["exit_code"] == EXIT_INVARIANT
    unjudged = verdict(SMOKE, stats(1000), Judgement(problems=["no history from w1"]))
    assert unjudged["exit_code"] == EXIT_UNJUDGED
    assert not unjudged["passed"]


def test_summary_numbers_and_the_report_model() -> None:
    summary = verdict(SMOKE, stats(3000), calls=counter(3.0))
    assert summary["bookings"] == 8
    assert summary["bookings_per_min"] == 8.0
    assert summary["unscaled_bookings_per_min"] == 0.8
    assert summary["outcomes"] == {"booked": 8, "gave_up": 1, "error": 0}
    assert summary["status_429_seen"] == 7
    report = load_summary(summary)
    assert report.passed
    assert report.p95_ms == 3000  # the booked calls' p95
    assert report.users == 10
    assert any("booked calls (8): p50 3.0 s, p95 3.0 s" in note for note in report.notes)
    assert any("time factor 10" in note for note in report.notes)
    assert any("429s seen 7" in note for note in report.notes)


def test_the_run_description_round_trips_for_the_workers() -> None:
    config = LoadConfig(profile=SMOKE, target=Target("http://127.0.0.1:1", "http://127.0.0.1:2",
                                                     control_url="http://127.0.0.1:1",
                                                     control_token="t0ken",
                                                     company_keys=("k",)),
                        run_dir="/tmp/x", run_tag="ldabc", workers=2,
                        defenses_off=("slot_lock",))
    assert LoadConfig.loads(config.dumps()) == config
