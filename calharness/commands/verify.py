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
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from calharness.commands import ablate
from calharness.commands.console import make_console
from calharness.commands.options import (
    UsageError,
    add_database_url,
    add_defense_off,
    add_target,
    defenses_off,
    min_ran,
    target_of,
)
from calharness.commands.pytest_run import (
    ProgressDisplay,
    checks_by_test,
    property_by_test,
    run_pytest,
)
from calharness.commands.run_env import RunDatabase, choose_run_database, default_workers
from harness.target import Target, TargetError
from reports import CheckResult, build_report, write_reports


def configure(parser: argparse.ArgumentParser) -> None:
    add_target(parser, "a target file (TOML, see harness/target.py) describing a deployment: "
               "verify it through its adapter instead of the embedded stack; what it offers "
               "(a fake Cal.com, test control) decides which scenarios run")
    add_database_url(parser)
    parser.add_argument("--ablate", action="store_true",
                        help="also switch each defense off in turn and show which scenarios "
                        "catch its absence (adds the ablation matrix; needs the target's test "
                        "control; slower)")
    parser.add_argument("--out", type=Path, default=Path("reports/out"), metavar="DIR",
                        help="where reports go (default: reports/out)")
    parser.add_argument("-n", "--workers", default="auto",
                        help="test processes for the scenarios: a number or 'auto' "
                        "(default: auto = up to 2 on this kind of machine; 1 against a target)")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="only scenarios matching this pytest -k expression")
    add_defense_off(parser, "run with these booking-service defenses switched off, to watch "
                    "the suite catch it (repeatable, or a comma list; needs test control)")
    parser.add_argument("--min-ran", metavar="SHARE", default=None,
                        help="fail unless at least this many of the selected scenarios ran "
                        "(not skipped for a missing capability): a percentage (90%%) or a count")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _workers(text: str) -> int:
    if text == "auto":
        return default_workers()
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--workers: {text!r} is neither a number nor 'auto'") from None
    if value < 1:
        raise UsageError("--workers: at least 1")
    return value


def offered_capabilities(target: Target) -> frozenset[str]:
    """Open the target once to see what it offers (and fail early when it does not answer)."""
    from harness.session import Session

    try:
        _answers(target.service_url)
        with Session(target) as session:
            return session.capabilities
    except TargetError as exc:
        raise UsageError(f"--target: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--target: {target.service_url} does not answer ({exc})") from None


def _answers(url: str) -> None:
    """Raise OSError unless something answers HTTP at `url` (any status is an answer): a
    service without test control is otherwise never asked before the scenarios start."""
    try:
        with urllib.request.urlopen(url, timeout=10):
            pass
    except urllib.error.HTTPError as answered:
        answered.close()


def run(args: argparse.Namespace) -> int:
    # Everything that can be checked is checked before anything starts or is written.
    target = target_of(args.target)
    off = defenses_off(args.defense_off)
    required = min_ran(args.min_ran)
    workers = _workers(args.workers)
    offered = offered_capabilities(target) if target is not None else None
    if off and offered is not None and "defenses" not in offered:
        raise UsageError("--defense-off needs a target whose test control can switch "
                         "defenses ([test_control] in the target file)")
    if args.ablate and offered is not None and not {"defenses", "reset"} <= offered:
        raise UsageError("--ablate needs a target whose test control can switch defenses and "
                         "reset ([test_control] in the target file)")

    console = make_console()
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    db = choose_run_database(args.database_url, target=args.target)
    if db.single_process:
        workers = 1
    env = dict(db.env)
    if off:
        env["CALHARNESS_DEFENSES_OFF"] = ",".join(off)
    if args.target is not None:
        env["CALHARNESS_TARGET"] = str(args.target.resolve())

    console.print(f"[bold]calharness verify[/bold] — target: "
                  f"{'embedded stack' if args.target is None else args.target}")
    console.print(f"database: {db.description}")
    if offered is not None:
        console.print("target offers: " + ", ".join(sorted(offered)))
    if off:
        console.print(f"[yellow]defenses OFF: {', '.join(off)}[/yellow]")
    try:
        with ProgressDisplay(console, "scenarios", enabled=not args.no_progress) as progress:
            main_run = run_pytest(out / "junit.xml", env=env, workers=workers,
                                  keyword=args.keyword, on_event=progress,
                                  log=out / "pytest.log")
        ablation = None
        if args.ablate:
            ablation = ablate.run_ablation(console, out / "ablation", base_env=env,
                                           baseline_junit=out / "junit.xml",
                                           keyword=args.keyword, progress=not args.no_progress,
                                           parallel=1 if db.single_process else None)
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
        duration_s=round(time.perf_counter() - started, 1), notes=notes, min_ran=required)
    if not report.ran_enough:
        report.notes.append(f"only {report.ran} of {report.total} scenarios ran; --min-ran "
                            f"{args.min_ran} asks for {report.required_to_run}")
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
    for capability, nodeids in report.skipped_for_capabilities().items():
        console.print(f"  skipped for want of [bold]{capability}[/bold]: {len(nodeids)}")
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
                  f"in {report.duration_s} s — {report.ran_line()}")


__all__ = ["RunDatabase", "configure", "run"]

if os.name == "nt":  # pragma: no cover - pass_fds is POSIX only
    raise ImportError("calharness verify needs a POSIX system")
