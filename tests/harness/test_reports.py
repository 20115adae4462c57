"""Report builders: JUnit in, summary.json / summary.md / report.html out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from checkworld import S1, S1_MS, World

from harness.checks import run_all
from reports.build import ablation_matrix, ablation_row, build_report
from reports.incidents import BY_ID, CATALOGUE
from reports.junit import ReportInputError, parse_hypothesis_statistics, read_junit
from reports.model import LoadSummary, RunReport, ScenarioResult
from reports.render import render_html, render_markdown, write_reports

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="2" tests="6" time="3.2">
 <testcase classname="scenarios.rca.test_stale" name="test_call_688_replay" time="0.81">
  <properties>
   <property name="nodeid" value="scenarios/rca/test_stale.py::test_call_688_replay"/>
   <property name="area" value="rca"/>
   <property name="rca" value="duplicate-stale-booking"/>
   <property name="rca" value="tc-007"/>
   <property name="defense" value="freshness"/>
  </properties>
 </testcase>
 <testcase classname="scenarios.races.test_races.TestOneSlot" name="test_n_callers[50]" time="1.5">
  <properties>
   <property name="nodeid" value="scenarios/races/test_races.py::TestOneSlot::test_n_callers[50]"/>
   <property name="area" value="races"/>
   <property name="rca" value="availability-race-14s"/>
   <property name="defense" value="slot_lock"/>
  </properties>
  <failure message="AssertionError: host-slot-exclusive: 1 violation(s)">Traceback…
E   [double-booking] host 101 @ 2025-10-10T08:00:00.000Z: 2 active Cal.com bookings</failure>
 </testcase>
 <testcase classname="scenarios.webhooks.test_webhooks" name="test_duplicate" time="0.2">
  <properties><property name="rca" value="webhook-duplicate"/></properties>
  <error message="failed on setup with &quot;ConnectionRefusedError&quot;">setup error</error>
 </testcase>
 <testcase classname="scenarios.races.test_races" name="test_mariadb" time="0.0">
  <skipped type="pytest.skip" message="no MariaDB configured (HARNESS_MYSQL_URL)">skip</skipped>
 </testcase>
 <testcase classname="tests.harness.test_x" name="test_known_bug" time="0.01">
  <skipped type="pytest.xfail" message="reason"/>
 </testcase>
 <testcase classname="scenarios.rca.test_x" name="test_typo" time="0.01">
  <properties><property name="rca" value="duplicate-stale-bookng"/></properties>
 </testcase>
</testsuite></testsuites>
"""

HYPOTHESIS_TEXT = """scenarios/explore/test_machine.py::TestBooking::runTest:

  - during generate phase (4.21 seconds):
    - Typical runtimes: ~ 30-60 ms, of which < 1ms in data generation
    - 100 passing, 0 failing, and 7 invalid test cases
    - Stopped because settings.max_examples=100
  - during shrink phase (0.50 seconds):
    - Typical runtimes: ~ 2ms
    - 3 passing, 1 failing, and 0 invalid test cases
"""


@pytest.fixture
def junit(tmp_path: Path) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT, encoding="utf-8")
    return path


def test_read_junit_outcomes_markers_and_failure_text(junit: Path) -> None:
    rows = {r.name: r for r in read_junit(junit)}
    replay = rows["test_call_688_replay"]
    assert (replay.outcome, replay.area, replay.incidents, replay.defenses, replay.duration_s) == (
        "passed", "rca", ["duplicate-stale-booking", "tc-007"], ["freshness"], 0.81)
    race = rows["test_n_callers[50]"]
    assert race.nodeid == "scenarios/races/test_races.py::TestOneSlot::test_n_callers[50]"
    assert race.outcome == "failed"
    assert race.failure is not None
    assert race.failure.startswith("AssertionError: host-slot-exclusive: 1 violation(s)")
    assert "[double-booking] host 101" in race.failure
    assert rows["test_duplicate"].outcome == "error"
    assert rows["test_mariadb"].outcome == "skipped"
    assert rows["test_mariadb"].failure == "no MariaDB configured (HARNESS_MYSQL_URL)\nskip"
    assert rows["test_known_bug"].outcome == "xfailed"
    # Without the plugin's properties the node id and area come from the class name.
    assert rows["test_duplicate"].nodeid == "scenarios/webhooks/test_webhooks.py::test_duplicate"
    assert rows["test_duplicate"].area == "webhooks"
    assert rows["test_known_bug"].area == "tests"


def test_read_junit_names_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_text("<testsuite><testcase")
    with pytest.raises(ReportInputError, match=r"bad\.xml"):
        read_junit(tmp_path / "bad.xml")
    with pytest.raises(ReportInputError, match=r"missing\.xml"):
        read_junit(tmp_path / "missing.xml")


def test_hypothesis_statistics_are_parsed_and_kept_whole() -> None:
    stat = parse_hypothesis_statistics("t", HYPOTHESIS_TEXT)
    assert (stat.passing, stat.failing, stat.invalid, stat.seconds) == (100, 0, 7, 4.71)
    assert stat.text == HYPOTHESIS_TEXT
    unknown = parse_hypothesis_statistics("t", "a format Hypothesis has not invented yet")
    assert (unknown.passing, unknown.seconds) == (None, None)


def test_catalogue_has_the_incidents_of_the_seeds() -> None:
    for incident_id in ("duplicate-stale-booking", "availability-race-14s", "branch-id-uuid",
                        "webhook-duplicate", "webhook-out-of-order", "local-calcom-drift",
                        *(f"tc-{n:03d}" for n in range(1, 13))):
        assert incident_id in BY_ID
    seeds = Path("/work/shared/seeds")
    if seeds.is_dir():  # the seed files each incident cites exist
        names = {p.name for p in seeds.iterdir()}
        assert {s for i in CATALOGUE for s in i.seeds} <= names


def stolen_verdicts():
    world = World()
    world.collect("call_688", S1, uid="u687")
    world.booking("u687", S1_MS, call_id="call_687", attendee="Hansi Sputer")
    world.appointment("u687", S1, call_id="call_688", customer="Hans Schuster")
    return run_all(world.history(), world.service(), world.truth())


def test_ablation_rows_exclude_baseline_failures_and_flag_undetected() -> None:
    base = [ScenarioResult("s::flaky", "failed"),
            ScenarioResult("s::stale", "passed", incidents=["duplicate-stale-booking"],
                           defenses=["freshness"]),
            ScenarioResult("s::race", "passed", defenses=["slot_lock", "freshness"])]
    off = [ScenarioResult("s::flaky", "failed"),
           ScenarioResult("s::stale", "failed", incidents=["duplicate-stale-booking"],
                          defenses=["freshness"]),
           ScenarioResult("s::race", "passed", defenses=["slot_lock", "freshness"])]
    row = ablation_row("freshness", off, baseline=base, verdicts=stolen_verdicts())
    assert row.failed == ["s::stale"]                     # s::flaky fails anyway
    assert row.detected
    assert row.tagged_still_passing == ["s::race"]
    assert row.incidents == ["duplicate-stale-booking"]
    assert row.violation_kinds == ["stolen-booking", "drift", "told-mismatch"]
    matrix = ablation_matrix({"freshness": off, "slot_lock": base}, baseline=base)
    assert [(r.defense, r.detected) for r in matrix] == [("freshness", True),
                                                         ("slot_lock", False)]
    crashed = ablation_row("freshness", off, baseline=base, error="pytest exited 3")
    assert not crashed.detected


def full_report(junit: Path) -> RunReport:
    rows = read_junit(junit)
    machine = "scenarios/explore/test_machine.py::TestBooking::runTest"
    rows.append(ScenarioResult(machine, "passed", area="explore",
                               hypothesis=parse_hypothesis_statistics(machine, HYPOTHESIS_TEXT)))
    base = [r for r in rows if not r.bad]
    return build_report(
        scenarios=rows, verdicts=stolen_verdicts(), verdict_scope="races",
        ablation=[ablation_row("freshness", [*base[:0], ScenarioResult(
            "scenarios/rca/test_stale.py::test_call_688_replay", "failed",
            incidents=["duplicate-stale-booking"], defenses=["freshness"])], baseline=base),
                  ablation_row("tenant_isolation", base, baseline=base)],
        load=LoadSummary(users=50, duration_s=60, requests=12000, failures=3, rps=200.0,
                         p50_ms=40, p95_ms=180, p99_ms=420, passed=True),
        database="sqlite", target="embedded", command="calharness verify --ablate",
        duration_s=42.5, seed=7)


def test_markdown_summary_a_reviewer_reads_in_a_minute(junit: Path) -> None:
    md = render_markdown(full_report(junit))
    assert md.startswith("# calharness verify — FAILED\n")
    assert "3 passed · 2 failed · 1 skipped · 1 xfailed — 7 scenarios · checkers 9/12 ok" in md
    assert "ablation 1/2 defenses detected" in md
    assert "database: **sqlite** · target: embedded · 42.5 s · seed 7" in md
    assert "| races | 0 | 1 | 1 | 2 |" in md
    # The first assertion (pytest's E lines), not the traceback's first line.
    assert ("- ❌ `scenarios/races/test_races.py::TestOneSlot::test_n_callers[50]` (races; "
            "availability-race-14s; defenses slot_lock) — [double-booking] host 101 @ "
            "2025-10-10T08:00:00.000Z: 2 active Cal.com bookings" in md)
    # RCA coverage: each incident with its scenarios and their status, uncovered ones too.
    assert "| `duplicate-stale-booking` |" in md
    assert "| ✅ test_call_688_replay | ✅ passing |" in md
    assert "| ❌ test_n_callers[50] | ❌ failing |" in md
    assert "| `branch-id-uuid` | Branch ids are UUID strings" in md
    assert "| — | ⚠️ uncovered |" in md
    assert "`duplicate-stale-bookng`: scenarios/rca/test_x.py::test_typo" in md
    # Checker violations with their evidence.
    assert "### no-stolen-booking (races) — related incidents: duplicate-stale-booking" in md
    assert "- **stolen-booking** call call_688 / booking u687:" in md
    assert "  - op #0 w0:p-call_688 collect call_688 @ 2025-10-10T08:00:00Z → ok booked (u687)" in md
    assert ("  - Cal.com booking u687 accepted 2025-10-10T08:00:00.000Z hosts [101] made for call "
            "call_687, attendee Hansi Sputer") in md
    assert "  - appointment 1 scheduled 2025-10-10T08:00:00Z host 101 call call_688" in md
    # Ablation matrix with the undetected row, load and Hypothesis.
    assert "| `freshness` | ✅ yes | scenarios/rca/test_stale.py::test_call_688_replay |" in md
    assert "| `tenant_isolation` | ❌ **UNDETECTED** | — |" in md
    assert "50 users for 60 s: 12000 requests, 3 failures, 200.0 req/s, p50 40 ms" in md
    assert "| scenarios/explore/test_machine.py::TestBooking::runTest | 100 | 0 | 7 | 4.71 |" in md


def test_a_clean_run_reads_passed(junit: Path) -> None:
    report = RunReport(scenarios=[r for r in read_junit(junit) if not r.bad], database="mariadb")
    assert report.ok
    md = render_markdown(report)
    assert md.startswith("# calharness verify — PASSED")
    assert "## Failures" not in md
    assert "## Ablation" not in md
    assert "No checker ran." in md
    assert "— 4 scenarios · no checker run" in md


def test_write_reports_writes_every_file(junit: Path, tmp_path: Path) -> None:
    report = full_report(junit)
    out = tmp_path / "out"
    paths = write_reports(report, out, junit=[junit])
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.html", "summary.json",
                                                     "summary.md"]
    assert paths["junit"].read_text() == JUNIT
    summary = json.loads(paths["json"].read_text())
    assert summary["schema"] == "calharness.report/1"
    assert summary["ok"] is False
    assert summary["database"] == "sqlite"
    assert summary["undetected_defenses"] == ["tenant_isolation"]
    assert summary["by_area"]["races"]["failed"] == 1
    cov = {c["incident"]: c for c in summary["coverage"]}
    assert cov["availability-race-14s"]["status"] == "failing"
    assert cov["branch-id-uuid"]["status"] == "uncovered"
    assert summary["checks"][3]["violations"][0]["kind"] == "stolen-booking"
    # summary.json round-trips into the model (an ablation run hands its part over this way).
    again = RunReport.from_json(summary)
    assert again.to_json() == summary
    assert "calharness verify" in paths["html"].read_text()
    # Writing into the folder the JUnit file already lives in leaves it alone; a second JUnit
    # file (an ablation run) keeps its name.
    extra = tmp_path / "junit-ablation-freshness.xml"
    extra.write_text(JUNIT)
    again_paths = write_reports(report, tmp_path, junit=[junit, extra])
    assert again_paths["junit"] == junit
    assert again_paths["junit-2"] == extra
    assert junit.read_text() == JUNIT


def test_html_escapes_what_tests_printed(junit: Path) -> None:
    report = RunReport(scenarios=[ScenarioResult(
        "scenarios/security/test_sqli.py::test_name", "failed", area="security",
        failure="AssertionError: name was <script>alert(1)</script>")])
    html = render_html(report)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "FAILED" in html


def test_from_json_rejects_other_documents() -> None:
    with pytest.raises(ValueError, match=r"not a calharness\.report/1 summary"):
        RunReport.from_json({"schema": "something-else"})
