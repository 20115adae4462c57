"""`calharness verify`'s report of a real (small) run: code coverage measured in the test
processes (and in served processes with --processes), the faults each scenario injected, a load
summary and capacity curve, the trend against a previous run, repeats, "not selected".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from calharness.coverage_run import CRITICAL, modules_from_json, tier_of
from harness_cli.report_runs import CAPACITY, LOAD_SUMMARY
from harness_cli.report_runs import small_run as shared_small_run


def calharness(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calharness", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return shared_small_run(tmp_path_factory)


def test_coverage_is_measured_in_the_test_processes_and_kept_beside_the_report(
        small_run: tuple[Path, str]) -> None:
    out, stdout = small_run
    cc = summary(out)["code_coverage"]
    assert cc["processes"] >= 1
    modules = {m["module"]: m for m in cc["modules"]}
    assert set(CRITICAL) <= set(modules)
    booking = modules["booking_service/flows/booking.py"]
    assert booking["tier"] == "critical"
    assert booking["target"] == 100.0
    assert booking["covered_lines"] > 0
    assert booking["branches"] > 0
    assert (out / booking["html"]).is_file()
    assert (out / "coverage-html" / "index.html").is_file()
    assert "coverage of booking_service: lines" in stdout
    assert "coverage-html/index.html" in stdout


def test_faults_are_recorded_per_scenario_with_what_fired(small_run: tuple[Path, str]) -> None:
    out, stdout = small_run
    faults = summary(out)["faults"]
    rows = faults["injections"]
    replay = [r for r in rows if r["kind"] == "stale_replay"]
    assert replay
    assert replay[0]["endpoint"] == "POST /v2/bookings"
    assert replay[0]["fired"] >= 1
    # The circuit-breaker scenario clears its faults before it ends: still recorded, counted.
    circuit = [r for r in rows if "circuit" in r["scenario"]]
    assert circuit
    assert all(r["fired"] is not None for r in circuit)
    assert any(r["fired"] > 0 for r in circuit)
    assert any(r["endpoint"].startswith("webhook") for r in rows)
    assert "overbook" in faults["gaps"]["http"]           # nothing in this run injects it
    assert "faults: " in stdout
    assert "gaps:" in stdout


def test_load_capacity_and_trend_reach_the_report(small_run: tuple[Path, str]) -> None:
    out, stdout = small_run
    data = summary(out)
    assert data["load"]["target_s"] == 45.0
    assert data["load"]["time_factor"] == 10.0
    assert len(data["capacity"]["points"]) == 4
    assert [row[0] for row in data["trend"]["fixed"]] == [
        "scenarios/rca/test_call_687_688.py::test_call_688_is_not_given_call_687s_booking"]
    html = (out / "report.html").read_text(encoding="utf-8")
    for chart in ("booking-flow", "endpoint-latency", "capacity"):
        assert f'data-chart="{chart}"' in html
    assert "load: booking flow p50 22.0 s, p95 32.0 s (real time; target 45 s)" in stdout
    assert "1 fixed" in stdout


def test_unselected_scenarios_are_not_selected_rather_than_missing(
        small_run: tuple[Path, str]) -> None:
    out, stdout = small_run
    data = summary(out)
    assert len(data["not_selected"]) > 100
    status = {c["incident"]: c["status"] for c in data["coverage"]}
    assert status["branch-id-uuid"] == "not selected"
    assert "incidents without a scenario" not in stdout
    assert "incidents whose scenarios were not selected:" in stdout
    # The console names every report file, the JUnit XML included.
    reports_line = next(line for line in stdout.splitlines() if line.startswith("reports: "))
    assert "junit.xml" in reports_line


def test_repeats_find_no_flaky_scenario_in_a_stable_selection(tmp_path: Path) -> None:
    result = calharness("verify", "-k", "smoke", "--repeat", "2", "--no-coverage", "--workers",
                        "1", "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    data = summary(tmp_path)
    assert len(data["repeats"]) == 2
    assert data["flaky"] == {}
    assert data["code_coverage"] is None
    assert (tmp_path / "junit-repeat-2.xml").is_file()


def test_processes_measures_the_served_service_too(tmp_path: Path) -> None:
    result = calharness("verify", "--processes", "-k", "smoke", "--out", str(tmp_path),
                        "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    cc = summary(tmp_path)["code_coverage"]
    assert "the served booking_service process" in cc["measured_in"]
    # Only a served process runs the service's command line: its lines prove that process's
    # data was combined.
    cli = next(m for m in cc["modules"] if m["module"] == "booking_service/cli.py")
    assert cli["covered_lines"] > 0
    assert "served out of process" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--repeat", "0"], "--repeat: at least 1"),
    (["--load-summary", "no-such-file.json"], "--load-summary: cannot read"),
    (["--capacity-curve", str(LOAD_SUMMARY)], "--capacity-curve:"),
    (["--previous", str(CAPACITY)], "--previous:"),
    (["--processes", "--target", str(CAPACITY)], ""),
])
def test_bad_report_inputs_stop_verify_before_it_starts(args: list[str], message: str,
                                                         tmp_path: Path) -> None:
    result = calharness("verify", *args, "--out", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


# -- coverage bookkeeping --------------------------------------------------------------------------


def test_tiers_name_the_critical_modules_and_the_untargeted_ones() -> None:
    assert tier_of("booking_service/flows/booking.py")[:2] == ("critical", 100.0)
    assert tier_of("booking_service/flows/webhooks.py")[0] == "critical"
    assert tier_of("booking_service/db.py")[:2] == ("supporting", 80.0)
    assert tier_of("booking_service/test_control/state.py")[:2] == ("untargeted", None)
    assert tier_of("booking_service/migrations/env.py")[0] == "untargeted"


def test_coverage_json_becomes_rows_with_links(tmp_path: Path) -> None:
    from coverage.files import flat_rootname

    name = "booking_service/flows/booking.py"
    (tmp_path / "coverage-html").mkdir()
    (tmp_path / "coverage-html" / f"{flat_rootname(name)}.html").write_text("x")
    (tmp_path / "cov.json").write_text(json.dumps({"files": {name: {
        "summary": {"num_statements": 10, "covered_lines": 8, "num_branches": 4,
                    "covered_branches": 3},
        "missing_lines": [7, 8], "missing_branches": [[5, 7]]}}}))
    [row] = modules_from_json(tmp_path / "cov.json", Path("."), tmp_path / "coverage-html",
                              tmp_path)
    assert (row.module, row.tier, row.line_pct, row.branch_pct, row.status) == (
        name, "critical", 80.0, 75.0, "below")
    assert row.line_link(7) == f"coverage-html/{flat_rootname(name)}.html#t7"
