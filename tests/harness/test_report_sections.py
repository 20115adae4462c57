"""The report's sections a merge reviewer and an incident writer rely on: code coverage with
targets, fault coverage with gaps, performance charts, trend and flakiness, honest incident
statuses, full failure text, aligned tables, one self-contained file.

Each check is also run against a planted bad report, so it is known to be able to fail.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports import (
    CapacityCurve,
    CapacityPoint,
    CheckResult,
    CodeCoverage,
    FaultCoverage,
    FaultInjection,
    LoadSummary,
    ModuleCoverage,
    PreviousRun,
    RunReport,
    ScenarioResult,
    render_html,
    render_markdown,
    write_reports,
)
from reports.charts import bar_chart, line_chart
from reports.failures import failure_location, first_assertion

PYTEST_FAILURE = """\
world = <harness.world.World object at 0x7f>

    def test_x(world):
>       assert answer["status"] == "stale_booking_data", answer
E       AssertionError: {'status': 'booked'}
E       assert 'booked' == 'stale_booking_data'
E         - stale_booking_data
E         + booked

scenarios/rca/test_stale_booking_freshness.py:95: AssertionError
"""


def module(name: str, tier: str, lines: tuple[int, int], branches: tuple[int, int],
           missing: list[int] | None = None) -> ModuleCoverage:
    target = {"critical": 100.0, "supporting": 80.0}.get(tier)
    return ModuleCoverage(module=name, tier=tier, target=target, statements=lines[1],
                          covered_lines=lines[0], branches=branches[1],
                          covered_branches=branches[0], missing_lines=missing or [],
                          missing_branches=[[12, 14]] if branches[0] < branches[1] else [],
                          html=f"coverage-html/{name.replace('/', '_')}.html")


def sample_report(**changes: object) -> RunReport:
    stale = ScenarioResult("scenarios/rca/test_stale.py::test_35min", "failed", area="rca",
                           incidents=["stale-booking-freshness"], defenses=["freshness"],
                           duration_s=1.25, failure=PYTEST_FAILURE)
    replay = ScenarioResult("scenarios/rca/test_stale.py::test_688", "passed", area="rca",
                            incidents=["duplicate-stale-booking"], defenses=["freshness"],
                            duration_s=0.5)
    skipped = ScenarioResult("scenarios/races/test_one.py::test_replicas", "skipped",
                             area="races", incidents=["availability-race-14s"],
                             missing=["mariadb"], failure="missing capability: mariadb")
    racing = ScenarioResult("scenarios/races/test_one.py::test_two", "passed", area="races",
                            incidents=["availability-race-14s"], defenses=["slot_lock"],
                            duration_s=2.0)
    untagged = ScenarioResult("scenarios/smoke/test_basics.py::test_books", "passed",
                              area="smoke", duration_s=0.1)
    checks = [CheckResult("no-stolen-booking", ok=False, scope="5 scenarios", checked=5,
                          violations=[{"kind": "stolen-booking", "key": "call c1",
                                       "message": "c1 holds c0's booking",
                                       "evidence": ["op #2 collect c1 → ok booked (u1)"],
                                       "scenario": stale.nodeid}])]
    faults = FaultCoverage(
        injections=[
            FaultInjection(stale.nodeid, "replay", "stale_replay", "POST /v2/bookings",
                           detail="key email+start", matched=1, fired=1),
            FaultInjection(replay.nodeid, "replay", "stale_replay", "POST /v2/bookings",
                           trigger="first 1", matched=2, fired=1),
            FaultInjection(racing.nodeid, "slow", "latency", "GET /v2/slots", matched=3, fired=0),
            FaultInjection(racing.nodeid, "dup", "webhook_duplicate", "webhook BOOKING_CREATED",
                           matched=1, fired=1),
        ],
        http_kinds=["latency", "stale_replay", "status", "hang"],
        webhook_kinds=["webhook_drop", "webhook_duplicate"],
        endpoints=["POST /v2/bookings", "GET /v2/slots", "POST /v2/bookings/*/cancel"],
        recorded=4)
    cc = CodeCoverage(package="booking_service", modules=[
        module("booking_service/flows/booking.py", "critical", (99, 100), (10, 12), [17, 18, 19]),
        module("booking_service/defenses.py", "critical", (50, 50), (8, 8)),
        module("booking_service/db.py", "supporting", (79, 100), (9, 10)),
        module("booking_service/cli.py", "untargeted", (0, 10), (0, 2)),
    ], html_index="coverage-html/index.html", processes=3, measured_in=["the pytest processes"])
    load = LoadSummary(users=10, duration_s=15, requests=188, failures=0, rps=12.5,
                       p50_ms=2200, p95_ms=3200, p99_ms=3300, time_factor=10, target_s=45,
                       profile="smoke",
                       endpoints=[{"name": "booking_flow", "method": "FLOW", "p95_ms": 3200},
                                  {"name": "collect-appointment", "method": "POST",
                                   "num_requests": 95, "num_failures": 0, "p50_ms": 190,
                                   "p95_ms": 500, "p99_ms": 870}])
    capacity = CapacityCurve(target_s=45, capacity=10, time_factor=10, points=[
        CapacityPoint(5, 18.0, 30.0, True), CapacityPoint(10, 24.0, 31.0, True),
        CapacityPoint(20, 30.0, 52.0, False, violated=['no-phantom-booking'])])
    report = RunReport(scenarios=[stale, replay, skipped, racing, untagged], checks=checks,
                       faults=faults, code_coverage=cc, load=load, capacity=capacity,
                       not_selected=[ScenarioResult("scenarios/rca/test_branch.py::test_uuid",
                                                    "not selected", area="rca",
                                                    incidents=["branch-id-uuid"])],
                       repo_link="../..", database="sqlite")
    for name, value in changes.items():
        setattr(report, name, value)
    return report


# -- code coverage ---------------------------------------------------------------------------------


def test_a_module_meets_its_target_only_with_lines_and_branches() -> None:
    assert module("a.py", "critical", (100, 100), (4, 4)).status == "met"
    assert module("a.py", "critical", (99, 100), (4, 4)).status == "below"
    assert module("a.py", "critical", (100, 100), (3, 4)).status == "below"
    assert module("a.py", "supporting", (80, 100), (8, 10)).status == "met"
    assert module("a.py", "supporting", (79, 100), (8, 10)).status == "below"
    assert module("a.py", "untargeted", (0, 10), (0, 2)).status == "no target"
    assert module("a.py", "critical", (0, 0), (0, 0)).status == "met"  # nothing to cover


def test_coverage_section_lists_every_module_with_its_status_and_the_uncovered_lines() -> None:
    html = render_html(sample_report())
    section = html.split('id="code-coverage"')[1].split("</section>")[0]
    rows = re.findall(r"<tr><td>.*?</tr>", section, re.S)
    assert len(rows) == 4
    assert 'class="s-below">below' in rows[0]
    assert "booking_service/flows/booking.py" in rows[0]
    assert "99.0 %" in rows[0]
    assert "83.3 %" in rows[0]
    assert 'class="s-met">met' in rows[1]
    assert 'class="s-below">below' in rows[2]       # 79 % of a supporting module
    assert "no target" in rows[3]
    # The critical module's missing lines, linked to coverage's page at the line.
    assert 'href="coverage-html/booking_service_flows_booking.py.html#t17">17–19</a>' in section
    assert "12→14" in section
    assert "3 modules below target" not in section
    assert "2 modules below target" in section
    md = render_markdown(sample_report())
    assert ("| `booking_service/flows/booking.py` | critical | 100 | 99.0 % | 10/12 | 83.3 % | "
            "100 % | ❌ below |") in md
    assert "uncovered in critical `booking_service/flows/booking.py`: lines 17-19" in md


def test_a_fully_covered_run_says_so_and_an_unmeasured_one_says_why() -> None:
    full = CodeCoverage(package="booking_service", modules=[
        module("booking_service/defenses.py", "critical", (50, 50), (8, 8))])
    html = render_html(sample_report(code_coverage=full))
    assert "Every module meets its target." in html
    assert "Every line and branch of the critical modules ran." in html
    assert "Not measured in this run" in render_html(sample_report(code_coverage=None))


# -- fault coverage --------------------------------------------------------------------------------


def test_fault_matrix_counts_injections_and_lists_gaps() -> None:
    report = sample_report()
    faults = report.faults
    assert faults is not None
    matrix = faults.matrix()
    assert list(matrix) == ["POST /v2/bookings", "GET /v2/slots", "POST /v2/bookings/*/cancel"]
    cell = matrix["POST /v2/bookings"]["stale_replay"]
    assert (cell.armed, cell.fired, cell.triggers) == (2, 2, ["always", "first 1"])
    assert faults.gaps() == ["status", "hang"]
    assert faults.gaps(webhook=True) == ["webhook_drop"]
    assert [(c.endpoint, c.kind) for c in faults.never_fired()] == [("GET /v2/slots", "latency")]
    html = render_html(report)
    section = html.split('id="fault-coverage"')[1].split("</section>")[0]
    assert '<td class="c hit"' in section
    assert ">2/2</td>" in section
    assert "<code>status</code>, <code>hang</code>" in section      # the gaps, named
    assert "<code>webhook_drop</code>" in section
    # Who answered: the checker that caught the stale replay in the failing scenario, and the
    # defenses the scenarios are tagged with.
    assert "caught by no-stolen-booking" in section
    assert "defenses freshness" in section
    assert "webhook BOOKING_CREATED" in section


def test_a_run_that_injected_every_kind_has_no_gaps() -> None:
    faults = FaultCoverage(injections=[FaultInjection("a::b", "x", "status", "GET /v2/slots",
                                                      matched=1, fired=1)],
                           http_kinds=["status"], webhook_kinds=[])
    html = render_html(sample_report(faults=faults))
    assert "Every fault kind the fake supports was injected." in html
    assert "Gaps" not in html.split('id="fault-coverage"')[1].split("webhook")[0]


# -- incidents: partial, not selected ---------------------------------------------------------------


def test_skipped_but_tagged_is_partial_with_the_reason_and_deselected_is_not_selected() -> None:
    report = sample_report()
    status = {c.incident.id: c for c in report.coverage()}
    assert status["availability-race-14s"].status == "partial"
    assert status["availability-race-14s"].skip_reasons == ["test_replicas: lacking mariadb"]
    assert status["branch-id-uuid"].status == "not selected"
    assert status["webhook-duplicate"].status == "uncovered"
    html = render_html(report)
    assert "partial<br><span class=\"muted\">test_replicas: lacking mariadb" in html
    assert "not selected: test_uuid" in html
    md = render_markdown(report)
    assert "◐ partial: test_replicas: lacking mariadb" in md
    assert "➖ not selected" in md


# -- failures ----------------------------------------------------------------------------------------


def test_a_failure_shows_its_first_assertion_where_it_was_raised_and_the_checker_evidence() -> None:
    assert first_assertion(PYTEST_FAILURE) == ("AssertionError: {'status': 'booked'}\n"
                                               "assert 'booked' == 'stale_booking_data'\n"
                                               "  - stale_booking_data\n  + booked")
    assert failure_location(PYTEST_FAILURE) == (
        "scenarios/rca/test_stale_booking_freshness.py:95 (AssertionError)")
    assert first_assertion("setup failed\nTraceback (most recent call last):\n x") == "setup failed"
    html = render_html(sample_report())
    section = html.split('id="failures"')[1].split("</section>")[0]
    assert "assert &#39;booked&#39; == &#39;stale_booking_data&#39;" in section
    assert "+ booked" in section                          # not cut after the first line
    assert "raised at scenarios/rca/test_stale_booking_freshness.py:95" in section
    assert "<b>no-stolen-booking</b> · <b>stolen-booking</b> call c1" in section
    assert "op #2 collect c1 → ok booked (u1)" in section


# -- every scenario, with its duration ------------------------------------------------------------


def test_every_scenario_is_listed_under_its_area_with_its_duration() -> None:
    html = render_html(sample_report())
    section = html.split('id="scenarios"')[1].split("</section>")[0]
    for nodeid in ("test_stale.py::test_35min", "test_one.py::test_replicas",
                   "test_basics.py::test_books"):      # untagged and skipped ones too
        assert nodeid in section
    assert '<td class="n">1.25</td>' in section
    assert 'id="area-smoke"' in section


# -- performance -------------------------------------------------------------------------------------


def test_load_figures_are_shown_in_real_time_against_the_target_with_charts() -> None:
    report = sample_report()
    assert report.load is not None
    assert report.load.flow_real_s == {"p50": 22.0, "p95": 32.0, "p99": 33.0}
    assert report.load.meets_target is True
    html = render_html(report)
    section = html.split('id="performance"')[1].split("</section>")[0]
    assert "p95 <b>32.0 s</b> in real time against the <b>45 s</b> target" in section
    for name in ("booking-flow", "endpoint-latency", "capacity"):
        assert f'data-chart="{name}"' in section
    assert section.count("<rect") >= 5
    assert section.count("<circle") == 3
    # A step over the target is drawn red.
    assert 'fill="#cf222e" data-value="52"' in section
    assert "<b>10</b> simultaneous calls" in section
    assert "but steps of 20 calls broke an invariant" in section
    assert "invariants broken: no-phantom-booking" in section
    slow = LoadSummary(users=1, duration_s=1, requests=1, failures=0, rps=1, p95_ms=5000,
                       time_factor=10, target_s=45)
    assert slow.meets_target is False
    assert "missed" in render_html(sample_report(load=slow)).split('id="performance"')[1]


def test_charts_draw_what_they_are_given() -> None:
    svg = bar_chart("x", "t", [("a", 10.0), ("b", 50.0), ("c", None)], unit="s", target=45)
    assert svg.count("<rect") == 2
    assert "no data" in svg
    assert 'fill="#cf222e" data-value="50"' in svg
    assert 'fill="#1a7f37" data-value="10"' in svg
    assert 'class="target"' in svg
    empty = line_chart("y", "t", [], x_unit="calls", y_unit="s")
    assert "<circle" not in empty
    assert "<polyline" not in empty
    curve = line_chart("y", "t", [(1, 2.0, True), (2, 9.0, False)], x_unit="calls", y_unit="s",
                       target=5)
    assert curve.count("<circle") == 2
    assert "<polyline" in curve


# -- trend and flakiness -----------------------------------------------------------------------------


def test_trend_names_new_failures_fixed_ones_and_other_changes() -> None:
    previous = PreviousRun("old/summary.json", outcomes={
        "scenarios/rca/test_stale.py::test_35min": "passed",       # → failed: new failure
        "scenarios/rca/test_stale.py::test_688": "failed",         # → passed: fixed
        "scenarios/races/test_one.py::test_replicas": "passed",    # → skipped: changed
        "scenarios/rca/test_branch.py::test_uuid": "passed",       # not selected now
        "scenarios/gone.py::test_old": "passed"})
    report = sample_report(previous=previous)
    trend = report.trend()
    assert trend["new_failures"] == [("scenarios/rca/test_stale.py::test_35min", "passed",
                                      "failed")]
    assert trend["fixed"] == [("scenarios/rca/test_stale.py::test_688", "failed", "passed")]
    assert trend["changed"] == [("scenarios/races/test_one.py::test_replicas", "passed",
                                 "skipped")]
    assert ("scenarios/rca/test_branch.py::test_uuid", "passed", "not selected") in trend["gone"]
    assert ("scenarios/gone.py::test_old", "passed", "gone") in trend["gone"]
    html = render_html(report)
    assert "<b>1</b> new failure," in html
    assert "<b>1</b> fixed" in html
    assert "Compared with <code>old/summary.json</code>" in html


def test_a_flaky_scenario_is_listed_and_fails_the_run() -> None:
    clean = RunReport(scenarios=[ScenarioResult("a.py::t", "passed")])
    clean.repeats = [{"a.py::t": "passed"}, {"a.py::t": "passed"}]
    assert clean.ok
    assert clean.flaky() == {}
    flaky = RunReport(scenarios=[ScenarioResult("a.py::t", "passed")])
    flaky.repeats = [{"a.py::t": "passed"}, {"a.py::t": "failed"}, {"a.py::t": "passed"}]
    assert flaky.flaky() == {"a.py::t": ["passed", "failed", "passed"]}
    assert not flaky.ok
    html = render_html(flaky)
    assert "1 flaky scenario" in html
    assert '<td class="c s-failed">failed</td>' in html


# -- round trip, one file, aligned tables ----------------------------------------------------------


def test_every_new_section_round_trips_through_summary_json(tmp_path: Path) -> None:
    report = sample_report(previous=PreviousRun("p.json", {"a": "passed"}),
                           repeats=[{"a": "passed"}, {"a": "failed"}])
    paths = write_reports(report, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["code_coverage"]["below_target"] == ["booking_service/flows/booking.py",
                                                     "booking_service/db.py"]
    assert data["faults"]["gaps"] == {"http": ["status", "hang"], "webhook": ["webhook_drop"]}
    assert data["flaky"] == {"a": ["passed", "failed"]}
    again = RunReport.from_json(data)
    assert again.to_json() == data


class _Tables(HTMLParser):
    """Each table's rows as lists of (tag, classes, colspan) cells; external references."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, set[str]]]]] = []
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        for key in ("src", "href"):
            ref = values.get(key) or ""
            if re.match(r"^(https?:)?//", ref):
                self.external.append(ref)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append((tag, set((values.get("class") or "").split())))


def misaligned_columns(html: str) -> list[str]:
    """Columns whose header is aligned otherwise than their cells (numbers right, centred
    counts centred, text left): the check the browser test repeats on the rendered page."""
    parser = _Tables()
    parser.feed(html)
    problems = []
    for t, table in enumerate(parser.tables):
        if not table:
            continue
        header = table[0]
        for row in table[1:]:
            if len(row) != len(header):
                continue
            for i, ((_, head), (_, cell)) in enumerate(zip(header, row, strict=True)):
                align = ({"n", "c"} & head) or {"left"}
                got = ({"n", "c"} & cell) or {"left"}
                if align != got:
                    problems.append(f"table {t} column {i}: header {align}, cell {got}")
    return problems


def test_tables_are_aligned_and_the_file_needs_nothing_from_outside() -> None:
    html = render_html(sample_report())
    assert misaligned_columns(html) == []
    parser = _Tables()
    parser.feed(html)
    assert parser.external == []
    assert not {"script", "link", "img", "iframe"} & parser.tags
    assert "@media print" in html


def test_the_alignment_check_catches_a_misaligned_table() -> None:
    planted = ('<table><tr><th>name</th><th>count</th></tr>'
               '<tr><td>a</td><td class="n">3</td></tr></table>')
    assert misaligned_columns(planted) == ["table 0 column 1: header {'left'}, cell {'n'}"]


@pytest.mark.parametrize("section", ["summary", "failures", "trend", "rca", "code-coverage",
                                     "fault-coverage", "checkers", "performance", "scenarios"])
def test_every_section_is_there_even_when_it_has_nothing_to_show(section: str) -> None:
    assert f'id="{section}"' in render_html(RunReport())
