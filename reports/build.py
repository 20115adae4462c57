"""Assemble a :class:`~reports.model.RunReport` from what a run produced.

The CLI passes plain inputs: JUnit XML paths (or scenario rows it already has), checker verdicts
(``harness.checks.Verdict``), per-defense results of an ablation, a load summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reports.junit import read_junit
from reports.model import (
    AblationRow,
    CheckResult,
    LoadSummary,
    RunReport,
    ScenarioResult,
)


def build_report(junit: Path | str | Iterable[Path | str] | None = None, *,
                 scenarios: Iterable[ScenarioResult] = (),
                 verdicts: Iterable[Any] = (), verdict_scope: str = "run",
                 checks: Iterable[CheckResult] = (),
                 ablation: Iterable[AblationRow] | None = None,
                 load: LoadSummary | None = None, **run: Any) -> RunReport:
    """A report from JUnit files and/or scenario rows, checker verdicts and the rest.

    ``run`` takes the :class:`RunReport` fields that describe the run (``database``,
    ``target``, ``title``, ``command``, ``started_at``, ``duration_s``, ``seed``, ``notes``).
    """
    rows = list(scenarios)
    if junit is not None:
        rows += read_junit(junit)
    check_rows = [CheckResult.from_verdict(v, verdict_scope) for v in verdicts] + list(checks)
    return RunReport(scenarios=rows, checks=check_rows,
                     ablation=None if ablation is None else list(ablation), load=load, **run)


def ablation_row(defense: str, results: Iterable[ScenarioResult], *,
                 baseline: Iterable[ScenarioResult] | None = None,
                 verdicts: Iterable[Any] = (), error: str | None = None) -> AblationRow:
    """One row of the ablation matrix: the run with ``defense`` switched off.

    A scenario that also failed in the baseline (all defenses on) proves nothing about this
    defense and is left out. Scenarios tagged ``defense(<name>)`` are taken from both runs.
    """
    results = list(results)
    baseline = list(baseline or ())
    broken_anyway = {s.nodeid for s in baseline if s.bad}
    failed = [s for s in results if s.bad and s.nodeid not in broken_anyway]
    # A tagged scenario skipped in this run (e.g. MariaDB-only on SQLite) neither proves nor
    # disproves anything here.
    skipped = {s.nodeid for s in results if s.outcome == "skipped"}
    tagged = list(dict.fromkeys(s.nodeid for s in [*results, *baseline]
                                if defense in s.defenses and s.nodeid not in skipped
                                and s.outcome != "skipped"))
    incidents = list(dict.fromkeys(i for s in failed for i in s.incidents))
    kinds = list(dict.fromkeys(v["kind"] for verdict in verdicts
                               for v in verdict.to_json()["violations"]))
    return AblationRow(defense=defense, failed=[s.nodeid for s in failed], tagged=tagged,
                       incidents=incidents, violation_kinds=kinds, error=error)


def ablation_matrix(runs: Mapping[str, Iterable[ScenarioResult] | Path | str], *,
                    baseline: Iterable[ScenarioResult] | None = None,
                    verdicts: Mapping[str, Iterable[Any]] | None = None,
                    errors: Mapping[str, str] | None = None) -> list[AblationRow]:
    """Rows for every defense, in the order given; a run may be scenario rows or a JUnit path."""
    baseline = list(baseline or ())
    rows = []
    for defense, results in runs.items():
        scenarios = read_junit(results) if isinstance(results, Path | str) else list(results)
        rows.append(ablation_row(defense, scenarios, baseline=baseline,
                                 verdicts=(verdicts or {}).get(defense, ()),
                                 error=(errors or {}).get(defense)))
    return rows
