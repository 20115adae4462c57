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


def counter() -> OutcomeCounter:
    c = OutcomeCounter()
    for _ in range(8):
        c.add(CallResult(BOOKED, BOOKED, 1.0, 1))
    c.add(CallResult(GAVE_UP, "no_alternative", 1.0, 0))
    return c


def ok_judgement() -> Judgement:
    return Judgement(verdicts=[{"name": "host-slot-exclusive", "ok": True, "checked": 3,
                                "skipped": None, "violations": 0, "kinds": [], "examples": []}])


def verdict(profile: LoadProfile, stats_: dict[str, Any],
            judgement: Judgement | None = None) -> dict[str, Any]:
    return evaluate(profile, stats_, counter(), judgement or ok_judgement(),
                    {"status_429": 7}, users=10, workers=2, elapsed_s=60.0)


@pytest.mark.parametrize(("p95_ms", "code"), [(4400, EXIT_OK), (4500, EXIT_OK),
                                              (4600, EXIT_THRESHOLD), (None, EXIT_THRESHOLD)])
def test_p95_target_is_scaled_by_the_time_factor(p95_ms: float | None, code: int) -> None:
    summary = verdict(SMOKE, stats(p95_ms))  # time factor 10: 45 s → 4.5 s
    assert summary["exit_code"] == code
    assert summary["flow"]["target_s"] == 4.5
    if p95_ms:
        assert summary["flow"]["unscaled_p95_s"] == pytest.approx(p95_ms / 100)


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
    summary = verdict(SMOKE, stats(3000))
    assert summary["bookings"] == 8
    assert summary["bookings_per_min"] == 8.0
    assert summary["unscaled_bookings_per_min"] == 0.8
    assert summary["outcomes"] == {"booked": 8, "gave_up": 1, "error": 0}
    assert summary["status_429_seen"] == 7
    report = load_summary(summary)
    assert report.passed
    assert report.p95_ms == 3000
    assert report.users == 10
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
