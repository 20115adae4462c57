"""The report's view of capabilities: what each scenario needed and lacked, how many ran, and
whether that was enough (`--min-ran`) — in the model, in JSON, and read from JUnit XML."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reports.build import build_report
from reports.junit import read_junit
from reports.model import RunReport, ScenarioResult
from reports.render import write_reports


def scenarios(passed: int = 0, failed: int = 0, skipped: dict[str, list[str]] | None = None,
              other_skips: int = 0) -> list[ScenarioResult]:
    """`skipped` maps a scenario name to the capabilities it lacked."""
    rows = [ScenarioResult(f"scenarios/a/test_a.py::test_pass_{n}", "passed") for n in range(passed)]
    rows += [ScenarioResult(f"scenarios/a/test_a.py::test_fail_{n}", "failed")
             for n in range(failed)]
    rows += [ScenarioResult(f"scenarios/b/test_b.py::{name}", "skipped", needs=[*missing, "book"],
                            missing=missing, failure="missing capability: " + ", ".join(missing))
             for name, missing in (skipped or {}).items()]
    rows += [ScenarioResult(f"scenarios/c/test_c.py::test_other_{n}", "skipped",
                            failure="HARNESS_MYSQL_URL is not set") for n in range(other_skips)]
    return rows


def test_ran_line_counts_what_ran_and_names_what_the_rest_lacked() -> None:
    report = RunReport(scenarios=scenarios(passed=10, failed=1, skipped={
        "test_x": ["clock"], "test_y": ["clock", "reset"], "test_z": ["mariadb"]}))

    assert (report.total, report.ran) == (14, 11)
    assert report.ran_line() == ("11 of 14 scenarios ran (3 skipped; lacking clock ×2, "
                                 "mariadb ×1, reset ×1)")
    assert report.skipped_for_capabilities() == {
        "clock": ["scenarios/b/test_b.py::test_x", "scenarios/b/test_b.py::test_y"],
        "mariadb": ["scenarios/b/test_b.py::test_z"],
        "reset": ["scenarios/b/test_b.py::test_y"]}


def test_ran_line_of_a_full_run_and_of_other_skips() -> None:
    assert RunReport(scenarios=scenarios(passed=3)).ran_line() == "3 of 3 scenarios ran"
    assert RunReport(scenarios=scenarios(passed=2, other_skips=2)).ran_line() == (
        "2 of 4 scenarios ran (2 skipped)")
    mixed = RunReport(scenarios=scenarios(passed=1, skipped={"t": ["faults"]}, other_skips=1))
    assert mixed.ran_line() == "1 of 3 scenarios ran (2 skipped; lacking faults ×1)"
    assert [s.nodeid for s in mixed.skipped_otherwise] == ["scenarios/c/test_c.py::test_other_0"]
    assert RunReport().ran_line() == "0 of 0 scenarios ran"


def test_a_missing_capability_of_a_scenario_that_ran_is_not_counted() -> None:
    ran = ScenarioResult("scenarios/a/test_a.py::test_ran", "passed", missing=["clock"])
    assert RunReport(scenarios=[ran]).skipped_for_capabilities() == {}


@pytest.mark.parametrize(("min_ran", "total", "required"), [
    (0.9, 148, 134),   # 133.2 rounds up
    (0.9, 10, 9),
    (0.3, 10, 3),      # 0.3 * 10 is 3.0000000000000004: still 3
    (0.57, 100, 57),   # 0.57 * 100 is 56.99999999999999: still 57
    (0.07, 100, 7),
    (1.0, 13, 13),
    (0.0, 13, 0),
    (0.5, 0, 0),
    (120, 148, 120),   # a count is a count
    (0, 5, 0),
    (None, 5, None),
])
def test_required_to_run_rounds_a_share_up(min_ran: float | int | None, total: int,
                                           required: int | None) -> None:
    report = RunReport(scenarios=scenarios(passed=total), min_ran=min_ran)
    assert report.required_to_run == required


def test_ran_enough_decides_the_run() -> None:
    skipped = {f"test_s{n}": ["clock"] for n in range(14)}
    nine_of_ten_percent = RunReport(scenarios=scenarios(passed=134, skipped=skipped),
                                    min_ran=0.9)
    assert (nine_of_ten_percent.total, nine_of_ten_percent.ran) == (148, 134)
    assert nine_of_ten_percent.ran_enough
    assert nine_of_ten_percent.ok

    one_short = RunReport(scenarios=scenarios(passed=133, skipped={**skipped, "t": ["reset"]}),
                          min_ran=0.9)
    assert (one_short.ran, one_short.required_to_run) == (133, 134)
    assert not one_short.ran_enough
    assert not one_short.ok  # nothing failed, but too little ran

    counted = RunReport(scenarios=scenarios(passed=5, skipped={"t": ["clock"]}), min_ran=5)
    assert counted.ran_enough
    assert not RunReport(scenarios=scenarios(passed=5), min_ran=6).ran_enough
    assert RunReport(scenarios=scenarios(passed=1, skipped=skipped)).ran_enough  # no --min-ran


def test_failed_scenarios_count_as_run() -> None:
    report = RunReport(scenarios=scenarios(passed=1, failed=1), min_ran=1.0)
    assert (report.ran, report.ran_enough, report.ok) == (2, True, False)


def test_the_new_fields_round_trip_through_json() -> None:
    report = RunReport(scenarios=scenarios(passed=2, skipped={"test_x": ["clock", "reset"]}),
                       min_ran=0.9, target="served.toml")

    data = json.loads(json.dumps(report.to_json()))

    assert (data["ran"], data["total"], data["min_ran"], data["required_to_run"],
            data["ran_enough"]) == (2, 3, 0.9, 3, False)
    assert data["skipped_for_capabilities"] == {"clock": ["scenarios/b/test_b.py::test_x"],
                                                "reset": ["scenarios/b/test_b.py::test_x"]}
    skipped = data["scenarios"][2]
    assert (skipped["needs"], skipped["missing"]) == (["clock", "reset", "book"],
                                                      ["clock", "reset"])
    again = RunReport.from_json(data)
    assert again.scenarios == report.scenarios
    assert (again.min_ran, again.required_to_run, again.ran_line()) == (
        0.9, 3, report.ran_line())
    assert again.to_json() == data

    counted = RunReport.from_json(RunReport(min_ran=120).to_json())
    assert (counted.min_ran, type(counted.min_ran)) == (120, int)


def test_an_older_summary_without_the_new_fields_still_reads() -> None:
    data = RunReport(scenarios=scenarios(passed=1)).to_json()
    for key in ("ran", "total", "min_ran", "required_to_run", "ran_enough",
                "skipped_for_capabilities"):
        del data[key]
    for row in data["scenarios"]:
        del row["needs"], row["missing"]

    again = RunReport.from_json(data)

    assert (again.min_ran, again.scenarios[0].needs, again.scenarios[0].missing) == (None, [], [])


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
 <testcase classname="scenarios.rca.test_x" name="test_needs_clock" time="0.0">
  <properties>
   <property name="nodeid" value="scenarios/rca/test_x.py::test_needs_clock"/>
   <property name="needs" value="book"/>
   <property name="needs" value="clock"/>
   <property name="needs" value="clock"/>
   <property name="missing" value="clock"/>
  </properties>
  <skipped type="pytest.skip" message="missing capability: clock">skipped</skipped>
 </testcase>
 <testcase classname="scenarios.rca.test_x" name="test_ran" time="0.1">
  <properties>
   <property name="nodeid" value="scenarios/rca/test_x.py::test_ran"/>
   <property name="needs" value="book"/>
  </properties>
 </testcase>
 <testcase classname="scenarios.rca.test_x" name="test_plain" time="0.1"/>
</testsuite></testsuites>
"""


def test_junit_needs_and_missing_properties_reach_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT, encoding="utf-8")

    rows = {r.name: r for r in read_junit(path)}

    assert (rows["test_needs_clock"].outcome, rows["test_needs_clock"].needs,
            rows["test_needs_clock"].missing) == ("skipped", ["book", "clock"], ["clock"])
    assert (rows["test_ran"].needs, rows["test_ran"].missing) == (["book"], [])
    assert (rows["test_plain"].needs, rows["test_plain"].missing) == ([], [])
    report = build_report(path, min_ran=1.0)
    assert report.ran_line() == "2 of 3 scenarios ran (1 skipped; lacking clock ×1)"
    assert report.skipped_for_capabilities() == {
        "clock": ["scenarios/rca/test_x.py::test_needs_clock"]}


def test_written_reports_carry_the_verdict_line_and_the_lacks(tmp_path: Path) -> None:
    report = RunReport(scenarios=scenarios(passed=2, skipped={"test_x": ["clock"]}), min_ran=1.0)

    write_reports(report, tmp_path)

    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert (summary["ok"], summary["ran_enough"], summary["required_to_run"]) == (False, False, 3)
    assert summary["skipped_for_capabilities"] == {"clock": ["scenarios/b/test_b.py::test_x"]}


SUITE = '''
import pytest


@pytest.mark.needs("book", "clock")
def test_lacks_clock(request):
    request.node.user_properties.append(("missing", "clock"))
    pytest.skip("missing capability: clock")


@pytest.mark.needs("book")
def test_has_book():
    pass
'''


def test_the_pytest_plugin_writes_needs_that_the_report_reads(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE), encoding="utf-8")
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "reports.pytest_plugin", "-p", "no:cacheprovider",
         "-q", "-W", "ignore::pytest.PytestUnknownMarkWarning", f"--junitxml={junit}",
         str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    rows = {r.name: r for r in read_junit(junit)}

    assert (rows["test_lacks_clock"].outcome, rows["test_lacks_clock"].needs,
            rows["test_lacks_clock"].missing) == ("skipped", ["book", "clock"], ["clock"])
    assert (rows["test_has_book"].outcome, rows["test_has_book"].needs,
            rows["test_has_book"].missing) == ("passed", ["book"], [])


def test_markdown_and_html_say_how_much_ran_and_what_the_skipped_lacked() -> None:
    from reports.build import build_report
    from reports.render import render_html, render_markdown

    report = build_report(scenarios=[
        ScenarioResult("scenarios/a.py::t1", "passed"),
        ScenarioResult("scenarios/a.py::t2", "skipped", missing=["clock"],
                       failure="missing capability: clock"),
        ScenarioResult("scenarios/a.py::t3", "skipped", failure="needs MariaDB")], min_ran=0.9)
    markdown, html = render_markdown(report), render_html(report)
    assert "**1 of 3 scenarios ran (2 skipped; lacking clock ×1)**" in markdown
    assert "`--min-ran` asks for 3 — **not enough ran**" in markdown
    assert "- **clock** (1): `scenarios/a.py::t2`" in markdown
    assert "- `scenarios/a.py::t3` — needs MariaDB" in markdown
    assert "<b>1 of 3 scenarios ran (2 skipped; lacking clock ×1)</b>" in html
    assert "<code>clock</code>" in html
