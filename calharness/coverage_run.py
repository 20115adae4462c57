"""Code coverage of the booking service during `calharness verify` (coverage.py, line and branch).

Every process that runs the service is measured: the pytest worker processes (the embedded stack
runs the reference service inside them) and, when this run started the service out of process,
those processes too. All of them start coverage from ``COVERAGE_PROCESS_START`` (coverage.py's
``.pth`` hook, installed with coverage) pointing at a config this module writes, each saves a
data file of its own (``parallel``) when it exits, and :meth:`CoverageRun.finish` combines them,
writes coverage.py's HTML and JSON reports beside the run's report and hands the figures to the
report as plain data (``reports.CodeCoverage``).

Which modules are *critical* (target 100 %) is decided here, in :data:`CRITICAL`: the booking
flow, synchronisation with Cal.com (reconciliation and the imports it shares with webhooks) and
the webhook flow — the code whose mistakes double-book, lose or hand over a booking. The
command-line entry points, the migrations and the test-control endpoints have no target
(:data:`UNTARGETED`); every other module is *supporting* (80 %).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from reports import CodeCoverage, ModuleCoverage

PACKAGE = "booking_service"
CRITICAL_TARGET = 100.0
SUPPORTING_TARGET = 80.0

#: module → why it is critical (paths from the repository root).
CRITICAL: dict[str, str] = {
    "booking_service/flows/booking.py":
        "booking flow: collect-appointment through every duplicate-prevention layer",
    "booking_service/flows/upstream.py":
        "booking flow: the Cal.com writes that must not happen twice (ambiguous creates)",
    "booking_service/defenses.py":
        "booking flow: the twelve defenses themselves",
    "booking_service/slot_lock.py":
        "booking flow: one booking per slot at a time (the slot_lock defense)",
    "booking_service/flows/reconcile.py":
        "sync: reconciliation finds and repairs drift from Cal.com",
    "booking_service/flows/imports.py":
        "sync and webhooks: a Cal.com booking made elsewhere becomes one appointment",
    "booking_service/flows/webhooks.py":
        "webhook flow: verify, apply once, never move a booking backwards",
}
#: path prefix → why it has no target.
UNTARGETED: dict[str, str] = {
    "booking_service/cli.py": "command line: runs only when the service is started as a program",
    "booking_service/__main__.py": "command line entry point",
    "booking_service/migrations/": "Alembic migration scripts, run once per database",
    "booking_service/test_control/": "the test-control endpoints the harness drives, not "
                                     "booking behaviour",
}

RC_TEMPLATE = """\
# Written by calharness verify: how every measured process records coverage.
[run]
branch = true
parallel = true
source_pkgs = {package}
data_file = {data_file}
# xdist workers and served processes may end by os._exit or SIGTERM: save the data anyway.
patch = _exit
sigterm = true
disable_warnings = no-data-collected, module-not-imported, module-not-measured

[report]
exclude_also =
    if TYPE_CHECKING:
    raise NotImplementedError
"""


def tier_of(module: str) -> tuple[str, float | None, str]:
    """(tier, target, why) of a module path."""
    if module in CRITICAL:
        return "critical", CRITICAL_TARGET, CRITICAL[module]
    for prefix, why in UNTARGETED.items():
        if module == prefix or (prefix.endswith("/") and module.startswith(prefix)):
            return "untargeted", None, why
    return "supporting", SUPPORTING_TARGET, ""


@dataclass
class CoverageRun:
    """One run's coverage: ``out/coverage/`` holds the config, the data and coverage's reports."""

    out: Path
    measured_in: list[str] = field(default_factory=list)

    @property
    def directory(self) -> Path:
        return self.out / "coverage"

    @property
    def rc_file(self) -> Path:
        return self.directory / "coveragerc"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def html_dir(self) -> Path:
        return self.out / "coverage-html"

    def prepare(self) -> dict[str, str]:
        """A clean data folder and the config; returns the environment measured processes need."""
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        self.rc_file.write_text(RC_TEMPLATE.format(
            package=PACKAGE, data_file=(self.data_dir / ".coverage").resolve()), encoding="utf-8")
        return {"COVERAGE_PROCESS_START": str(self.rc_file.resolve())}

    def finish(self, repo_root: Path) -> CodeCoverage:
        """Combine every process's data, write coverage's HTML and JSON, and read the figures."""
        import coverage

        started = time.perf_counter()
        files = [p for p in self.data_dir.glob(".coverage.*") if p.is_file()]
        cov = coverage.Coverage(data_file=str(self.directory / ".coverage"),
                                config_file=str(self.rc_file), data_suffix=False)
        notes: list[str] = []
        if not files:
            return CodeCoverage(package=PACKAGE, measured_in=self.measured_in,
                                notes=["no process wrote coverage data: nothing of the service "
                                       "ran where this run could measure it"])
        cov.combine([str(self.data_dir)], keep=False)
        cov.save()
        json_path = self.directory / "coverage.json"
        shutil.rmtree(self.html_dir, ignore_errors=True)
        try:
            cov.json_report(outfile=str(json_path))
            cov.html_report(directory=str(self.html_dir),
                            title="calharness verify: booking_service coverage")
        except coverage.exceptions.NoDataError:
            notes.append("the data files held no measurement of the service")
        seconds = round(time.perf_counter() - started, 2)
        modules = modules_from_json(json_path, repo_root, self.html_dir, self.out) \
            if json_path.exists() else []
        return CodeCoverage(
            package=PACKAGE, modules=modules,
            html_index=_relative(self.html_dir / "index.html", self.out)
            if (self.html_dir / "index.html").exists() else None,
            processes=len(files), measured_in=self.measured_in, combine_s=seconds, notes=notes)


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def module_name(filename: str, repo_root: Path) -> str:
    """A measured file as a path from the repository root (``booking_service/db.py``)."""
    path = Path(filename)
    try:
        return path.resolve().relative_to(repo_root.resolve()).as_posix()
    except ValueError:
        parts = path.parts
        if PACKAGE in parts:
            return "/".join(parts[parts.index(PACKAGE):])
        return path.as_posix()


def modules_from_json(json_path: Path, repo_root: Path, html_dir: Path,
                      out: Path) -> list[ModuleCoverage]:
    """coverage.py's JSON report → one row per module, in tier and path order."""
    from coverage.files import flat_rootname

    data = json.loads(json_path.read_text(encoding="utf-8"))
    rows: list[ModuleCoverage] = []
    for filename, entry in data.get("files", {}).items():
        module = module_name(filename, repo_root)
        tier, target, why = tier_of(module)
        summary = entry["summary"]
        # coverage.py names a module's HTML page after its path as it reported it.
        page = html_dir / f"{flat_rootname(filename)}.html"
        rows.append(ModuleCoverage(
            module=module, tier=tier, target=target, why=why,
            statements=int(summary["num_statements"]), covered_lines=int(summary["covered_lines"]),
            branches=int(summary.get("num_branches", 0)),
            covered_branches=int(summary.get("covered_branches", 0)),
            missing_lines=[int(n) for n in entry.get("missing_lines", [])],
            missing_branches=[[int(a), int(b)] for a, b in entry.get("missing_branches", [])],
            html=_relative(page, out) if page.exists() else None))
    order = {"critical": 0, "supporting": 1, "untargeted": 2}
    return sorted(rows, key=lambda m: (order.get(m.tier, 3), m.module))
