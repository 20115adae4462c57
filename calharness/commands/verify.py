"""`calharness verify` — the main job.

Runs the scenario suite (embedded stack by default, or a target file), lets the checkers judge
every scenario, optionally runs the defense ablation, writes reports/out/ and exits 0 only if
everything passed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from calharness.commands import ablate
from calharness.commands.console import make_console
from calharness.commands.pytest_run import (
    ProgressDisplay,
    checks_by_test,
    property_by_test,
    run_pytest,
)
from calharness.commands.run_env import RunDatabase, choose_run_database, default_workers
from reports import CheckResult, build_report, write_reports


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", type=Path, metavar="FILE",
                        help="a target file (TOML) describing an external deployment: run the "
                        "black-box-safe subset against its URLs instead of the embedded stack")
    parser.add_argument("--database-url", metavar="URL",
                        help="the booking service's database (SQLAlchemy URL). Default: "
                        "$HARNESS_DB_URL; else a fresh database per test process on the "
                        "MariaDB/MySQL server in $HARNESS_MYSQL_URL; else a MySQL container "
                        "when Docker answers; else SQLite")
    parser.add_argument("--ablate", action="store_true",
                        help="also switch each defense off in turn and show which scenarios "
                        "catch its absence (adds the ablation matrix; slower)")
    parser.add_argument("--out", type=Path, default=Path("reports/out"), metavar="DIR",
                        help="where reports go (default: reports/out)")
    parser.add_argument("-n", "--workers", default="auto",
                        help="test processes for the scenarios: a number or 'auto' "
                        "(default: auto = up to 2 on this kind of machine)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="only scenarios matching this pytest -k expression")
    parser.add_argument("--defense-off", default="", metavar="NAME[,NAME]",
                        help="run with these booking-service defenses switched off "
                        "(to watch the suite catch it)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    console = make_console()
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    if args.target is not None and not args.target.exists():
        console.print(f"[red]target file not found:[/red] {args.target}")
        return 2
    db = choose_run_database(args.database_url, target=args.target)
    workers = default_workers() if args.workers == "auto" else max(1, int(args.workers))
    if db.single_process and workers > 1:
        workers = 1
    env = dict(db.env)
    if args.defense_off:
        env["CALHARNESS_DEFENSES_OFF"] = args.defense_off
    if args.target is not None:
        env["CALHARNESS_TARGET"] = str(args.target.resolve())

    console.print(f"[bold]calharness verify[/bold] — target: "
                  f"{'embedded stack' if args.target is None else args.target}")
    console.print(f"database: {db.description}")
    if args.defense_off:
        console.print(f"[yellow]defenses OFF: {args.defense_off}[/yellow]")
    try:
        with ProgressDisplay(console, "scenarios", enabled=not args.no_progress) as progress:
            main_run = run_pytest(out / "junit.xml", env=env, workers=workers,
                                  keyword=args.keyword, on_event=progress,
                                  log=out / "pytest.log")
        ablation = None
        if args.ablate:
            ablation = ablate.run_ablation(console, out / "ablation", base_env=env,
                                           baseline_junit=out / "junit.xml",
                                           keyword=args.keyword, progress=not args.no_progress)
    finally:
        db.close()

    checks = checks_across_scenarios(checks_by_test(out / "junit.xml"))
    notes = [explore_note(run) for run in property_by_test(out / "junit.xml", "explore").values()]
    nothing_ran = main_run.outcomes.get("passed", 0) + main_run.outcomes.get("failed", 0) == 0
    if nothing_ran:
        notes.append("no scenario ran (all skipped or none selected): nothing was verified")
    if main_run.collected_nothing:
        notes.append("pytest collected no scenarios (exit 5): that is not a pass")
    elif main_run.exit_code not in (0, 1):
        notes.append(f"pytest exited with {main_run.exit_code}: see {out / 'pytest.log'}")
    report = build_report(
        out / "junit.xml" if (out / "junit.xml").exists() else None, checks=checks,
        ablation=ablation, database=db.description,
        target="embedded" if args.target is None else str(args.target),
        command="calharness " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "calharness verify",
        started_at=started_at.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - started, 1), notes=notes)
    paths = write_reports(report, out)
    ok = report.ok and main_run.exit_code == 0 and not nothing_ran
    print_summary(console, report, paths, ok)
    return 0 if ok else 1


def explore_note(run: dict[str, Any]) -> str:
    """The state machine's line in the summary: how much it explored, and what it found."""
    off = ", ".join(run.get("defenses_off") or []) or "none"
    found = "no failure" if not run.get("failure") else "a failure (see the scenario's output)"
    return (f"state machine ({run.get('profile')} profile, seed {run.get('seed')}, defenses off: "
            f"{off}): {run.get('examples')} examples, {run.get('steps')} steps, {found}")


def checks_across_scenarios(by_test: dict[str, list[dict[str, Any]]]) -> list[CheckResult]:
    """One row per checker: how many scenarios it judged, what it checked in all, and every
    violation it found (each tagged with the scenario it came from)."""
    rows: dict[str, CheckResult] = {}
    judged: dict[str, int] = {}
    for nodeid, verdicts in by_test.items():
        for verdict in verdicts:
            name = verdict["name"]
            row = rows.setdefault(name, CheckResult(name=name, ok=True, scope="scenarios"))
            if verdict.get("skipped"):
                continue
            judged[name] = judged.get(name, 0) + 1
            row.checked += int(verdict.get("checked") or 0)
            for violation in verdict.get("violations") or ():
                row.ok = False
                row.violations.append({**violation, "scenario": nodeid})
    for name, row in rows.items():
        row.scope = f"{judged.get(name, 0)} scenarios"
    return list(rows.values())


def print_summary(console: Console, report: object, paths: dict[str, Path], ok: bool) -> None:
    from reports.model import RunReport

    assert isinstance(report, RunReport)
    counts = report.counts
    console.print()
    console.print(" · ".join(f"{n} {outcome}" for outcome, n in counts.items() if n) or "no scenarios")
    for area, row in report.by_area().items():
        bad = row.get("failed", 0) + row.get("error", 0)
        mark = "[red]✗[/red]" if bad else "[green]✓[/green]"
        console.print(f"  {mark} {area:<12} " + ", ".join(f"{n} {o}" for o, n in row.items() if n))
    for scenario in report.failed_scenarios[:20]:
        console.print(f"[red]FAILED[/red] {scenario.nodeid}")
        if scenario.failure:
            for line in scenario.failure.strip().splitlines()[-12:]:
                console.print(f"    {line}", markup=False, highlight=False)
    uncovered = [c.incident.id for c in report.coverage() if c.status == "uncovered"]
    if uncovered:
        console.print(f"[yellow]incidents without a scenario:[/yellow] {', '.join(uncovered)}")
    if report.ablation is not None:
        ablate.print_matrix(console, report.ablation)
    for stat in report.hypothesis_stats():
        console.print(f"hypothesis: {stat.nodeid}: {stat.text.strip().splitlines()[0] if stat.text else ''}")
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    console.print(f"database: {report.database}")
    console.print("reports: " + ", ".join(str(p) for p in paths.values()))
    console.print("[bold green]PASSED[/bold green]" if ok else "[bold red]FAILED[/bold red]",
                  f"in {report.duration_s} s")


__all__ = ["RunDatabase", "configure", "run"]

if os.name == "nt":  # pragma: no cover - pass_fds is POSIX only
    raise ImportError("calharness verify needs a POSIX system")
