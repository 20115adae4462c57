"""`calharness load --baseline FILE`: figures compared with an earlier run, a regression beyond
the threshold named and failing the run; baselines it cannot compare refused before it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from calharness.load_support.baseline import compare, figures, threshold_of
from harness_cli.report_runs import CAPACITY, DATA, LOAD_SUMMARY


def calharness(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calharness", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def _run() -> dict[str, Any]:
    return json.loads((DATA / "load-run" / "summary.json").read_text(encoding="utf-8"))


def test_a_run_compared_with_itself_did_not_regress() -> None:
    rows, notes = compare(_run(), _run())
    assert rows
    assert not any(r.regressed for r in rows)
    assert notes == []
    assert {"booking_flow p95", "requests per second", "failure ratio",
            "POST collect-appointment p95"} <= {r.name for r in rows}


def test_a_slower_flow_and_more_failures_are_named_as_regressions() -> None:
    worse = _run()
    worse["flow"]["p95_s"] = round(worse["flow"]["p95_s"] * 1.2, 3)    # +20 %
    worse["rps"] = worse["rps"] * 0.95                                  # -5 %: within 10 %
    worse["fail_ratio"] = 0.02                                          # +2 points
    rows, _ = compare(worse, _run())
    regressed = sorted(r.name for r in rows if r.regressed)
    assert regressed == ["booking_flow p95", "failure ratio"]
    assert next(r for r in rows if r.name == "booking_flow p95").describe() == (
        "booking_flow p95: 3.84 s vs 3.2 s (+20.0%)")
    # A stricter threshold counts the throughput drop too.
    assert "requests per second" in {r.name for r in compare(worse, _run(), 0.04)[0]
                                     if r.regressed}


def test_baselines_of_each_shape_have_figures() -> None:
    load_summary = json.loads(LOAD_SUMMARY.read_text(encoding="utf-8"))
    assert figures(load_summary)["booking_flow p95"].value == 3.2
    capacity = json.loads(CAPACITY.read_text(encoding="utf-8"))
    fewer = {**capacity, "capacity": 20}
    [row] = compare(fewer, capacity)[0]
    assert (row.name, row.regressed) == ("capacity", True)
    assert threshold_of("10%") == pytest.approx(0.1)
    assert threshold_of("0.25") == pytest.approx(0.25)


def test_load_refuses_a_baseline_it_cannot_compare_before_it_starts(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    result = calharness("load", "--profile", "smoke", "--baseline", str(junk), timeout=60)
    assert result.returncode == 2
    assert "--baseline:" in result.stderr
    result = calharness("load", "--profile", "smoke", "--find-capacity", "--baseline",
                        str(LOAD_SUMMARY), timeout=60)
    assert result.returncode == 2
    assert "capacity.json" in result.stderr


def test_a_load_run_slower_than_its_baseline_fails_naming_the_figure(tmp_path: Path) -> None:
    fast = _run()
    fast["flow"].update(p50_s=0.01, p95_s=0.01, p99_s=0.01)   # an impossibly fast baseline
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(fast))
    # 10 s, not less: on a loaded machine a shorter run may finish no booked call to compare.
    result = calharness("load", "--profile", "smoke", "--duration", "10", "--out",
                        str(tmp_path / "runs"), "--baseline", str(baseline), "--timeout", "60",
                        timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "REGRESSED booking_flow p95" in result.stdout
    [comparison] = (tmp_path / "runs").glob("*/baseline-comparison.json")
    assert "booking_flow p95" in json.loads(comparison.read_text())["regressed"]
