"""Write ``reports/out/``: JUnit passthrough, ``summary.json``, ``summary.md`` and ``report.html``.

Markdown and HTML come from the Jinja2 templates in ``reports/templates`` (shipped in the
package); the helpers here turn evidence into one-line descriptions both templates share.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.charts import bar_chart, line_chart
from reports.code_coverage import TIERS, line_ranges
from reports.failures import failure_location, first_assertion
from reports.faults import FaultCell
from reports.incidents import incidents_for_violation
from reports.model import RunReport

#: Violations listed per checker (the JSON keeps them all).
MAX_VIOLATIONS_SHOWN = 10
#: Scenarios listed per incident in the coverage table.
MAX_SCENARIOS_PER_INCIDENT = 6

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️", "xfailed": "☑️",
         "xpassed": "❗", "passing": "✅", "failing": "❌", "uncovered": "⚠️", "partial": "◐",
         "not selected": "➖", "met": "✅", "below": "❌", "no target": "➖"}
#: Missing lines listed per critical module (coverage's own HTML has them all).
MAX_MISSING_RANGES = 40
#: Names of the load run's own rows that are not endpoints.
NOT_ENDPOINTS = frozenset({"booking_flow", "Aggregated"})


def md_cell(value: Any) -> str:
    """Safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f} %"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def first_line(text: str | None, limit: int = 200) -> str:
    if not text:
        return ""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"),
                                     default_for_string=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_cell, first_line=first_line, pct=pct, seconds=seconds,
                       first_assertion=first_assertion, location=failure_location,
                       ranges=lambda lines: line_ranges(list(lines)),
                       css=lambda status: str(status).replace(" ", "-"),
                       icon=lambda outcome: ICONS.get(outcome, ""))
    return env


def charts(report: RunReport) -> dict[str, str]:
    """The report's SVG charts by name (only those it has data for)."""
    found: dict[str, str] = {}
    load = report.load
    if load is not None:
        real = load.flow_real_s
        found["flow"] = bar_chart(
            "booking-flow", "Booking flow, real time (time factor undone)",
            [("p50", real["p50"]), ("p95", real["p95"]), ("p99", real["p99"])], unit="s",
            target=load.target_s, target_label="p95 target")
        endpoints = [e for e in load.endpoints if e.get("name") not in NOT_ENDPOINTS]
        if endpoints:
            bars: list[tuple[str, float | None]] = []
            for e in endpoints:
                label = f"{e.get('method') or ''} {e.get('name')}".strip()
                bars += [(f"{label} p50", e.get("p50_ms")), (f"{label} p95", e.get("p95_ms"))]
            found["endpoints"] = bar_chart("endpoint-latency",
                                           "Latency per endpoint (ms, as measured)", bars,
                                           unit="ms", label_width=300)
    if report.capacity is not None and report.capacity.points:
        cap = report.capacity
        found["capacity"] = line_chart(
            "capacity", "Capacity: p95 booking flow (real time) by simultaneous calls",
            [(p.users, p.p95_s, p.meets_target and not p.violated) for p in cap.points],
            x_unit="simultaneous calls", y_unit="s", target=cap.target_s,
            target_label="p95 target")
    return found


def _answered(answers: dict[str, dict[str, Any]]) -> Any:
    """cell → the checkers that caught something in its scenarios, and their defenses."""
    def answered(cell: FaultCell) -> dict[str, list[str]]:
        defenses: dict[str, None] = {}
        checkers: dict[str, None] = {}
        for nodeid in cell.scenarios:
            found = answers.get(nodeid, {})
            defenses.update(dict.fromkeys(found.get("defenses", [])))
            checkers.update(dict.fromkeys(found.get("checkers", [])))
        return {"defenses": list(defenses), "checkers": list(checkers)}
    return answered


def _failure(report: RunReport, s: Any) -> dict[str, Any]:
    return {"s": s, "assertion": first_assertion(s.failure), "where": failure_location(s.failure),
            "violations": report.violations_of(s.nodeid)}


def _context(report: RunReport) -> dict[str, Any]:
    checks = []
    for c in report.checks:
        related = list(dict.fromkeys(i.id for v in c.violations
                                     for i in incidents_for_violation(v["kind"])))
        checks.append({"check": c, "shown": c.violations[:MAX_VIOLATIONS_SHOWN],
                       "hidden": max(0, len(c.violations) - MAX_VIOLATIONS_SHOWN),
                       "incidents": related})
    coverage = report.coverage()
    repo = report.repo_link
    answers = report.fault_answers()
    return {
        "r": report, "counts": report.counts, "areas": report.by_area(),
        "coverage": coverage,
        "covered": sum(1 for c in coverage if c.status not in ("uncovered", "not selected")),
        "unknown_incidents": report.unknown_incidents(),
        "failures": [_failure(report, s) for s in report.failed_scenarios], "checks": checks,
        "hypothesis": report.hypothesis_stats(),
        "max_per_incident": MAX_SCENARIOS_PER_INCIDENT,
        "lacking": report.skipped_for_capabilities(),
        "skipped_otherwise": report.skipped_otherwise,
        "by_area": report.scenarios_by_area(),
        "cc": report.code_coverage, "tiers": TIERS, "max_missing": MAX_MISSING_RANGES,
        "faults": report.faults, "answers": answers, "answered": _answered(answers),
        "charts": charts(report),
        "endpoints": [e for e in (report.load.endpoints if report.load else [])
                      if e.get("name") not in NOT_ENDPOINTS],
        "trend": report.trend() if report.previous is not None else None,
        "flaky": report.flaky(),
        "repo": None if repo is None else repo.rstrip("/") + "/",
    }


def render_markdown(report: RunReport) -> str:
    return _environment().get_template("summary.md.j2").render(_context(report))


def render_html(report: RunReport) -> str:
    return _environment().get_template("report.html.j2").render(_context(report))


def write_reports(report: RunReport, out_dir: Path | str = "reports/out", *,
                  junit: Iterable[Path | str] = ()) -> dict[str, Path]:
    """Write every report file; returns their paths by kind.

    JUnit files are copied unchanged: the first as ``junit.xml`` (the run's main result), any
    further ones (ablation runs) under their own names, as ``junit-2``, ``junit-3``… kinds.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for n, src in enumerate(junit, 1):
        src = Path(src)
        dest = out / ("junit.xml" if n == 1 else src.name)
        if not dest.exists() or not src.samefile(dest):
            shutil.copyfile(src, dest)
        written["junit" if n == 1 else f"junit-{n}"] = dest
    files = {
        "json": ("summary.json", json.dumps(report.to_json(), indent=2, ensure_ascii=False,
                                            default=str) + "\n"),
        "markdown": ("summary.md", render_markdown(report)),
        "html": ("report.html", render_html(report)),
    }
    for kind, (name, text) in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written[kind] = path
    return written
