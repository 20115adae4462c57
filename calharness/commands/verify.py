"""`calharness verify` — the main job.

Runs the scenario suite (embedded stack by default, a target file, or the reference service in
processes of its own with --processes), lets the checkers judge every scenario, optionally runs
the defense ablation, writes reports/out/ and exits 0 only if everything passed.

Besides the scenario results the report gets: the code coverage of the booking service in every
process this run started (unless --no-coverage; calharness.coverage_run), the faults each
scenario injected at the fake Cal.com (calharness.pytest_record), a load run's summary and
capacity curve (--load-summary, --capacity-curve), the outcome changes since a previous run
(--previous) and the scenarios whose outcome changed between repeats (--repeat N).
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
from calharness.coverage_run import CoverageRun
from calharness.pytest_record import DESELECTED_ENV
from calharness.report_inputs import (
    fault_coverage,
    read_capacity,
    read_deselected,
    read_load_summary,
    read_previous,
)
from harness.target import Target, TargetError
from reports import CheckResult, build_report, read_junit, write_reports

#: The repository this command runs from (links from the report to docs/ and the sources).
REPO_ROOT = Path(__file__).resolve().parents[2]


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
    parser.add_argument("--processes", action="store_true",
                        help="start the reference service and the fake Cal.com as processes of "
                        "their own (as `calharness serve --processes` does), verify them through "
                        "their target file with test control, and measure their coverage too")
    report = parser.add_argument_group("what else the report shows")
    report.add_argument("--no-coverage", action="store_true",
                        help="do not measure the booking service's code coverage (faster)")
    report.add_argument("--load-summary", type=Path, metavar="FILE",
                        help="a load run to show: `calharness load`'s load-summary.json (its "
                        "summary.json beside it gives the 45-second target and time factor)")
    report.add_argument("--capacity-curve", type=Path, metavar="FILE",
                        help="`calharness load --find-capacity`'s capacity.json, drawn as a curve")
    report.add_argument("--previous", type=Path, metavar="FILE",
                        help="the previous run's summary.json: show new failures, fixed ones "
                        "and every scenario whose outcome changed")
    report.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the suite N times and report the scenarios whose outcome "
                        "changed (flaky; a flaky scenario fails the run). Default 1")
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
    if args.repeat < 1:
        raise UsageError("--repeat: at least 1")
    if args.processes and args.target is not None:
        raise UsageError("--processes starts the reference service itself: leave out --target")
    load = read_load_summary(args.load_summary) if args.load_summary else None
    capacity = read_capacity(args.capacity_curve) if args.capacity_curve else None
    previous = read_previous(args.previous) if args.previous else None
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
    # Coverage of the service where this run starts it: in the pytest processes (the embedded
    # stack), and in the served processes with --processes. Ablation runs are not measured:
    # they run the service with a defense off, which no deployment does.
    measure = not args.no_coverage and args.target is None
    cov = CoverageRun(out) if measure else None
    cov_env = cov.prepare() if cov is not None else {}
    deselected = out / "deselected.jsonl"
    deselected.unlink(missing_ok=True)
    run_env = {**env, **cov_env, DESELECTED_ENV: str(deselected.resolve())}

    console.print(f"[bold]calharness verify[/bold] — target: "
                  f"{'embedded stack' if args.target is None else args.target}")
    console.print(f"database: {db.description}")
    if offered is not None:
        console.print("target offers: " + ", ".join(sorted(offered)))
    if off:
        console.print(f"[yellow]defenses OFF: {', '.join(off)}[/yellow]")
    served = None
    runs = []
    try:
        if args.processes:
            served = start_served(out, args.database_url, cov_env)
            target_file = served.write_target(out / "served-target.toml")
            run_env["CALHARNESS_TARGET"] = env["CALHARNESS_TARGET"] = str(target_file.resolve())
            workers = 1  # one service shared by the test processes: one at a time
            console.print(f"served out of process: service {served.service_url}, fake "
                          f"{served.fake_url} (target file {target_file})")
            if cov is not None:
                cov.measured_in.append("the served booking_service process")
        if cov is not None:
            cov.measured_in.insert(0, "the pytest processes (the embedded stack runs the "
                                   "service in them)" if not args.processes
                                   else "the pytest processes")
        for n in range(1, args.repeat + 1):
            junit = out / ("junit.xml" if n == 1 else f"junit-repeat-{n}.xml")
            label = "scenarios" if args.repeat == 1 else f"scenarios (run {n} of {args.repeat})"
            with ProgressDisplay(console, label, enabled=not args.no_progress) as progress:
                runs.append(run_pytest(junit, env=run_env, workers=workers,
                                       keyword=args.keyword, on_event=progress,
                                       log=out / ("pytest.log" if n == 1
                                                  else f"pytest-repeat-{n}.log")))
        main_run = runs[0]
        ablation = None
        if args.ablate:
            ablation = ablate.run_ablation(console, out / "ablation", base_env=env,
                                           baseline_junit=out / "junit.xml",
                                           keyword=args.keyword, progress=not args.no_progress,
                                           parallel=1 if db.single_process else None)
    finally:
        if served is not None:
            served.stop()  # its processes write their coverage data as they exit
        db.close()
    code_coverage = cov.finish(REPO_ROOT) if cov is not None else None

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
        ablation=ablation, load=load, database=db.description,
        target=("embedded" if args.target is None else str(args.target)) if not args.processes
        else "the reference service in its own processes",
        command="calharness " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "calharness verify",
        started_at=started_at.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - started, 1), notes=notes, min_ran=required)
    report.code_coverage = code_coverage
    report.capacity = capacity
    report.previous = previous
    report.faults = fault_coverage(out / "junit.xml", (s.nodeid for s in report.scenarios))
    report.not_selected = read_deselected(deselected, (s.nodeid for s in report.scenarios))
    report.repo_link = Path(os.path.relpath(REPO_ROOT, out.resolve())).as_posix()
    if args.repeat > 1:
        report.repeats = [{s.nodeid: s.outcome for s in read_junit(r.junit)}
                          if r.junit.exists() else {} for r in runs]
    if not report.ran_enough:
        report.notes.append(f"only {report.ran} of {report.total} scenarios ran; --min-ran "
                            f"{args.min_ran} asks for {report.required_to_run}")
    paths = write_reports(report, out)
    if (out / "junit.xml").exists():
        paths = {"junit": out / "junit.xml", **paths}
    if code_coverage is not None and code_coverage.html_index:
        paths["coverage-html"] = cov.html_dir / "index.html" if cov else out
    ok = (report.ok and all(r.exit_code == 0 for r in runs) and not nothing_ran)
    print_summary(console, report, paths, ok)
    return 0 if ok else 1


def start_served(out: Path, database_url: str | None, cov_env: dict[str, str]) -> Any:
    """The reference stack in processes of its own (calharness.served), measured when
    `cov_env` asks for it: its processes inherit this process's environment."""
    from calharness.served import ServedOptions, ServedStack, StartError

    saved = {k: os.environ.get(k) for k in cov_env}
    os.environ.update(cov_env)
    try:
        return ServedStack(ServedOptions(database_url=database_url,
                                         log_dir=out / "served")).start()
    except StartError as exc:
        raise UsageError(f"--processes: {exc}") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
    coverage = report.coverage()
    uncovered = [c.incident.id for c in coverage if c.status == "uncovered"]
    unselected = [c.incident.id for c in coverage if c.status == "not selected"]
    if uncovered:
        console.print(f"[yellow]incidents without a scenario:[/yellow] {', '.join(uncovered)}")
    if unselected:
        console.print(f"incidents whose scenarios were not selected: {', '.join(unselected)}")
    for line in coverage_lines(report):
        console.print(line, markup=False, highlight=False)
    if report.faults is not None:
        faults = report.faults
        console.print(f"faults: {len(faults.injections)} injected by {faults.recorded} "
                      f"scenarios into {len(faults.cells())} endpoint × kind cells; "
                      f"webhook chaos {len(faults.cells(webhook=True))} cells; gaps: "
                      + (", ".join(faults.gaps() + faults.gaps(webhook=True)) or "none"),
                      markup=False, highlight=False)
    if report.load is not None:
        real = report.load.flow_real_s
        target = report.load.target_s
        console.print(f"load: booking flow p50 {_s(real['p50'])}, p95 {_s(real['p95'])} "
                      f"(real time; target {'?' if target is None else f'{target:g} s'})")
    trend = report.trend()
    if report.previous is not None:
        console.print(f"since {report.previous.source}: {len(trend['new_failures'])} new "
                      f"failure(s), {len(trend['fixed'])} fixed, {len(trend['changed'])} other "
                      "change(s)", markup=False, highlight=False)
        for nodeid, before, now in trend["new_failures"]:
            console.print(f"  [red]new failure[/red] {nodeid} ({before} → {now})")
    for nodeid, outcomes in report.flaky().items():
        console.print(f"[red]FLAKY[/red] {nodeid}: {' · '.join(outcomes)}")
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


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def coverage_lines(report: Any) -> list[str]:
    """The console's coverage lines: the whole package, then each critical module."""
    cc = report.code_coverage
    if cc is None:
        return []
    if not cc.modules:
        return ["coverage: " + ("; ".join(cc.notes) or "nothing measured")]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}%"

    total = cc.totals()
    critical = cc.totals(cc.tier("critical"))
    lines = [f"coverage of {cc.package}: lines {pct(total['line_pct'])}, branches "
             f"{pct(total['branch_pct'])}; critical modules lines {pct(critical['line_pct'])}, "
             f"branches {pct(critical['branch_pct'])} (target 100%); "
             f"{len(cc.below_target)} module(s) below target"]
    for m in cc.tier("critical"):
        lines.append(f"  {'✓' if m.status == 'met' else '✗'} {m.module:<36} lines "
                     f"{pct(m.line_pct):>6}  branches {pct(m.branch_pct):>6}")
    return lines


__all__ = ["RunDatabase", "configure", "run"]

if os.name == "nt":  # pragma: no cover - pass_fds is POSIX only
    raise ImportError("calharness verify needs a POSIX system")
