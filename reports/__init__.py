"""Report model, builders and templates.

    from reports import build_report, ablation_row, write_reports
    report = build_report("reports/out/junit.xml", verdicts=verdicts, database="sqlite")
    write_reports(report, "reports/out")      # junit.xml, summary.json, summary.md, report.html

``reports.pytest_plugin`` (load with ``-p reports.pytest_plugin``) puts each test's ``area``,
``rca`` and ``defense`` markers into the JUnit XML the builders read.
"""

from reports.build import ablation_matrix, ablation_row, build_report
from reports.code_coverage import CodeCoverage, ModuleCoverage
from reports.faults import FaultCoverage, FaultInjection
from reports.incidents import CATALOGUE, Incident
from reports.junit import ReportInputError, read_junit
from reports.model import (
    AblationRow,
    CapacityCurve,
    CapacityPoint,
    CheckResult,
    HypothesisStat,
    LoadSummary,
    PreviousRun,
    RunReport,
    ScenarioResult,
)
from reports.render import render_html, render_markdown, write_reports

__all__ = [
    "CATALOGUE", "AblationRow", "CapacityCurve", "CapacityPoint", "CheckResult", "CodeCoverage",
    "FaultCoverage", "FaultInjection", "HypothesisStat", "Incident", "LoadSummary",
    "ModuleCoverage", "PreviousRun", "ReportInputError", "RunReport", "ScenarioResult",
    "ablation_matrix", "ablation_row", "build_report", "read_junit", "render_html",
    "render_markdown", "write_reports",
]
