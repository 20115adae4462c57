"""`calharness ablate` — prove the suite bites.

For each defense of the booking service, run the scenarios tagged with it while that defense is
switched off. A defense is *detected* when at least one scenario that passes with every defense on
fails without it; every scenario tagged with the defense is expected to fail. The command prints
the matrix and exits non-zero if a defense goes undetected or a tagged scenario still passes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from booking_service import DEFENSE_NAMES
from calharness.commands.console import make_console
from calharness.commands.options import UsageError, add_database_url, add_target, target_of
from calharness.commands.pytest_run import PytestRun, checks_by_test, run_pytest
from calharness.commands.run_env import choose_run_database, default_workers
from reports import AblationRow, ablation_matrix, read_junit, write_reports
from reports.build import build_report


class _Verdicts:
    """Adapter: checker verdicts read back from JUnit, in the shape `ablation_row` reads."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def to_json(self) -> dict[str, Any]:
        return self._data


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--defense", action="append", choices=DEFENSE_NAMES, metavar="NAME",
                        help="ablate only this defense (repeatable; default: every defense: "
                        + ", ".join(DEFENSE_NAMES) + ")")
    add_target(parser, "ablate a deployment described by a target file: its test control must "
               "switch defenses and reset (the reference service with --test-control-token)")
    add_database_url(parser, "as for `calharness verify`")
    parser.add_argument("--out", type=Path, default=Path("reports/out"), metavar="DIR")
    parser.add_argument("-k", dest="keyword", metavar="EXPR",
                        help="only scenarios matching this pytest -k expression")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from calharness.commands.verify import offered_capabilities

    target = target_of(args.target)
    if target is not None and not {"defenses", "reset"} <= offered_capabilities(target):
        raise UsageError("--target: ablation needs the service's test control to switch "
                         "defenses and reset ([test_control] in the target file)")
    console = make_console()
    db = choose_run_database(args.database_url, target=args.target)
    env = dict(db.env)
    if args.target is not None:
        env["CALHARNESS_TARGET"] = str(args.target.resolve())
    console.print(f"[bold]calharness ablate[/bold] — target: "
                  f"{'embedded stack' if args.target is None else args.target}; "
                  f"database: {db.description}")
    try:
        out: Path = args.out
        rows = run_ablation(console, out / "ablation", base_env=env, baseline_junit=None,
                            keyword=args.keyword, defenses=args.defense,
                            progress=not args.no_progress, parallel=1 if db.single_process else None)
    finally:
        db.close()
    report = build_report(scenarios=read_junit(out / "ablation" / "baseline.xml"),
                          ablation=rows, database=db.description, title="calharness ablate",
                          target="embedded" if args.target is None else str(args.target))
    paths = write_reports(report, out / "ablation", junit=())
    print_matrix(console, rows)
    console.print("reports: " + ", ".join(str(p) for p in paths.values()))
    bad = [r for r in rows if not r.detected or r.tagged_still_passing]
    return 1 if bad else 0


def run_ablation(console: Console, out: Path, *, base_env: Mapping[str, str],
                 baseline_junit: Path | None, keyword: str | None = None,
                 defenses: list[str] | None = None, progress: bool = True,
                 parallel: int | None = None) -> list[AblationRow]:
    """One pytest run per defense (only the scenarios tagged with it), in parallel where the
    database allows. A baseline (every defense on) tells real detections from scenarios that
    fail anyway."""
    names = list(defenses or DEFENSE_NAMES)
    out.mkdir(parents=True, exist_ok=True)
    if baseline_junit is None:
        console.print("baseline: the tagged scenarios with every defense on")
        baseline_junit = out / "baseline.xml"
        run_pytest(baseline_junit, env=base_env, workers=parallel or default_workers(),
                   keyword=keyword, extra=["-m", "defense"])
    baseline = read_junit(baseline_junit) if baseline_junit.exists() else []

    def one(defense: str) -> tuple[str, PytestRun]:
        env = {**base_env, "CALHARNESS_ABLATE": defense, "CALHARNESS_DEFENSES_OFF": defense}
        return defense, run_pytest(out / f"{defense}.xml", env=env, workers=1, keyword=keyword)

    runs: dict[str, PytestRun] = {}
    workers = parallel or default_workers()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (defense, result) in enumerate(pool.map(one, names), 1):
            runs[defense] = result
            status = "[green]detected" if result.exit_code == 1 else (
                "[red]undetected" if result.exit_code == 0 else
                f"[red]no tagged scenario (pytest exit {result.exit_code})")
            if progress:
                console.print(f"  [{done}/{len(names)}] {defense:<26} {status}[/] "
                              f"({result.outcomes.get('failed', 0)} failed, "
                              f"{result.outcomes.get('passed', 0)} passed, {result.duration_s:.1f} s)")

    errors = {d: f"pytest exited {r.exit_code} (see {r.log})" for d, r in runs.items()
              if r.exit_code not in (0, 1)}
    verdicts = {d: [_Verdicts(v) for vs in checks_by_test(r.junit).values() for v in vs
                    if not v.get("ok", True)] for d, r in runs.items()}
    junits = {d: r.junit for d, r in runs.items() if r.junit.exists()}
    rows = ablation_matrix({d: junits.get(d, []) for d in names}, baseline=baseline,
                           verdicts=verdicts, errors=errors)
    (out / "matrix.json").write_text(json.dumps([r.to_json() for r in rows], indent=2))
    return rows


def print_matrix(console: Console, rows: list[AblationRow]) -> None:
    table = Table(title="Defense ablation: each defense off, the scenarios that caught it")
    table.add_column("defense", no_wrap=True)
    table.add_column("detected")
    table.add_column("scenarios that failed")
    table.add_column("violations")
    table.add_column("tagged but still passing", style="yellow")
    for row in rows:
        table.add_row(row.defense,
                      "[green]yes" if row.detected else "[red]NO",
                      "\n".join(n.split("::")[-1] for n in row.failed) or "-",
                      ", ".join(row.violation_kinds) or "-",
                      "\n".join(n.split("::")[-1] for n in row.tagged_still_passing) or "")
    console.print(table)
