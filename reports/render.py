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

from reports.incidents import incidents_for_violation
from reports.model import RunReport

#: Violations listed per checker (the JSON keeps them all).
MAX_VIOLATIONS_SHOWN = 10
#: Scenarios listed per incident in the coverage table.
MAX_SCENARIOS_PER_INCIDENT = 6

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️", "xfailed": "☑️",
         "xpassed": "❗", "passing": "✅", "failing": "❌", "uncovered": "⚠️"}


def md_cell(value: Any) -> str:
    """Safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


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
    env.filters.update(md=md_cell, first_line=first_line,
                       icon=lambda outcome: ICONS.get(outcome, ""))
    return env


def _context(report: RunReport) -> dict[str, Any]:
    checks = []
    for c in report.checks:
        related = list(dict.fromkeys(i.id for v in c.violations
                                     for i in incidents_for_violation(v["kind"])))
        checks.append({"check": c, "shown": c.violations[:MAX_VIOLATIONS_SHOWN],
                       "hidden": max(0, len(c.violations) - MAX_VIOLATIONS_SHOWN),
                       "incidents": related})
    coverage = report.coverage()
    return {
        "r": report, "counts": report.counts, "areas": report.by_area(),
        "coverage": coverage,
        "covered": sum(1 for c in coverage if c.status != "uncovered"),
        "unknown_incidents": report.unknown_incidents(),
        "failures": report.failed_scenarios, "checks": checks,
        "hypothesis": report.hypothesis_stats(),
        "max_per_incident": MAX_SCENARIOS_PER_INCIDENT,
        "lacking": report.skipped_for_capabilities(),
        "skipped_otherwise": report.skipped_otherwise,
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
