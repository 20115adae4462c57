"""`calharness explore` — the Hypothesis state machine over the whole stack, for as long as you like.

    calharness explore                                  # the nightly profile: 1000 × ≤ 25 steps
    calharness explore --profile ci                     # what `calharness verify` runs (seed 0)
    calharness explore --examples 5000 --steps 50       # a budget of your own
    calharness explore --seed 1234                      # the same run again, step for step
    calharness explore --defense-off slot_lock          # does it find what the lock prevents?
    calharness explore --sweep                          # each sequence defense off in turn

A failure is shrunk to the shortest sequence that still breaks, printed as a numbered step list
with the checker's evidence, and written as a ready pytest file under scenarios/found/ (replayed
by `pytest` from then on). Failing examples are kept in a Hypothesis database
(.calharness/explore-db by default) and replayed first next time.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from calharness.commands.console import make_console
from calharness.commands.options import (
    UsageError,
    add_database_url,
    add_defense_off,
    add_target,
    defenses_off,
    target_of,
)

#: The defenses that matter to sequences of calls (issue 5): `--sweep` switches each off in turn
#: and expects the machine to find what it prevents.
SEQUENCE_DEFENSES = ("freshness", "call_id_match", "uid_duplicate_check", "unique_constraint",
                     "availability_double_check", "slot_lock")


PROFILES_HELP = """profiles (examples × at most steps; seconds on 2 shared cores, SQLite, every defense on):
  deep   1000 × 25, the nightly run (default): 17-20 minutes a seed, bound it with `timeout`
  ci     150 × 12 at seed 0, the one `calharness verify` and its ablation run: ~40 s of CPU
  --examples/--steps: a budget of your own (either one given: profile `custom`)
A run stops at its first failure; shrinking it takes seconds (--fast-shrink) to minutes."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = PROFILES_HELP
    parser.add_argument("--profile", choices=("deep", "ci"), default="deep",
                        help="a named budget (see below; default deep)")
    parser.add_argument("--examples", type=int, default=None, metavar="N",
                        help="sequences to generate (instead of the profile's)")
    parser.add_argument("--steps", type=int, default=None, metavar="M",
                        help="steps per sequence at most (instead of the profile's)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for every random choice (default: a fresh one, printed; "
                        "the ci profile's is 0)")
    add_defense_off(parser)
    parser.add_argument("--sweep", action="store_true",
                        help=f"switch each sequence defense off in turn "
                        f"({', '.join(SEQUENCE_DEFENSES)}); exit non-zero unless a failure is "
                        "found for every one")
    parser.add_argument("--fast-shrink", action="store_true",
                        help="skip Hypothesis's shrinker; only drop steps (always on with --sweep)")
    parser.add_argument("--found-dir", type=Path, default=Path("scenarios/found"),
                        help="where reproducers are written (default scenarios/found)")
    parser.add_argument("--no-write", action="store_true", help="print reproducers only")
    parser.add_argument("--example-db", type=Path, default=Path(".calharness/explore-db"),
                        help="Hypothesis database of failing examples, replayed first "
                        "(default .calharness/explore-db)")
    parser.add_argument("--no-example-db", action="store_true",
                        help="no database: a run depends on its seed alone")
    add_database_url(parser)
    add_target(parser, "explore a deployment described by a target file (it needs a fake "
               "Cal.com with allow_faults and the service's test control) instead of the "
               "embedded stack")
    parser.add_argument("--verbose", action="store_true", help="Hypothesis prints every step")


@contextlib.contextmanager
def explore_progress(console: Console, profile: Any, off: tuple[str, ...]) -> Iterator[Any]:
    """A live line on a terminal: examples run (of the profile's), steps, what it is doing now
    (generating, shrinking, dropping steps); nothing when the output is not a terminal."""
    if not console.is_terminal:
        yield None
        return
    label = "defenses off: " + (", ".join(off) or "none")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[steps]} steps · {task.fields[phase]}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(label, total=profile.examples, steps=0, phase="generating")

        def on_change(result: Any) -> None:
            progress.update(task, completed=min(result.examples, profile.examples),
                            steps=result.steps, phase=result.phase)

        yield on_change


def run(args: argparse.Namespace) -> int:
    from scenarios.explore.machine import CI_SEED, Profile, explore, running_session
    from scenarios.explore.reproducer import write_pytest

    console = make_console()
    if not args.verbose:
        # The service logs every refusal and every injected crash: thousands per run, all
        # expected. What matters is in the result; --verbose shows everything.
        logging.getLogger("booking_service").setLevel(logging.CRITICAL)
        logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    if (args.examples is not None and args.examples < 1) or \
            (args.steps is not None and args.steps < 1):
        raise UsageError("--examples and --steps must be at least 1")
    off_given = defenses_off(args.defense_off)
    target_of(args.target)  # a bad target file is reported before anything starts
    profile = Profile.named(args.profile)
    if args.examples is not None or args.steps is not None:
        profile = Profile.deep(args.examples or profile.examples, args.steps or profile.steps)
    seed = args.seed if args.seed is not None else \
        CI_SEED if profile.name == "ci" else random.SystemRandom().randrange(2**31)
    if args.sweep or args.fast_shrink:
        # Hypothesis's shrinker also simplifies arguments but can take minutes per failure;
        # dropping single steps until none can go is seconds and gives a 1-minimal sequence.
        profile = Profile(profile.name, profile.examples, profile.steps, shrink=False)
    runs = [(d,) for d in SEQUENCE_DEFENSES] if args.sweep else [off_given]
    database = None if args.no_example_db else args.example_db

    missed: list[str] = []
    found_any = False
    with running_session(database_url=args.database_url, target=args.target) as (session, stack):
        console.print(f"[bold]calharness explore[/bold] — profile {profile.name}: "
                      f"{profile.examples} examples × ≤ {profile.steps} steps, seed {seed}")
        console.print("target: " + (f"{args.target}" if stack is None else "embedded stack"))
        if stack is not None and stack.database is not None:
            console.print(f"database: {stack.database.description}")
        for off in runs:
            started = time.perf_counter()
            with explore_progress(console, profile, off) as on_change:
                result = explore(session, profile, seed=seed, defenses_off=off,
                                 database=database, verbose=args.verbose, on_change=on_change)
            console.print(f"{result.summary()} ({time.perf_counter() - started:.1f} s)")
            if result.failure is None:
                if args.sweep:
                    missed.append(off[0])
                continue
            found_any = True
            console.print(result.failure.text, markup=False, highlight=False)
            if not args.no_write:
                path = write_pytest(result.failure, args.found_dir)
                console.print(f"reproducer written: {path}")
            console.print(f"run again: calharness explore --seed {seed} "
                          + " ".join(f"--defense-off {d}" for d in off), markup=False)
    if args.sweep:
        if missed:
            console.print(f"[red]no failure found with these defenses off: {missed}[/red]")
            return 1
        console.print("[green]a failure was found with each sequence defense off[/green]")
        return 0
    return 1 if found_any else 0
