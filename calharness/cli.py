"""`calharness` — the command line.

Each subcommand lives in its own module exposing ``configure(parser)`` (add its arguments) and
``run(args) -> int`` (the exit code). Modules are imported only when their command runs, so
``calharness --help`` stays instant and one command's dependencies never slow another down.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: command -> (module, one-line help, longer description)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "verify": (
        "calharness.commands.verify",
        "run the scenario suite against the embedded stack (or --target) and write reports",
        "Start the fake Cal.com and the reference booking service in this process (SQLite "
        "unless a database is given), run every scenario (RCA incidents, races, resilience, "
        "security, webhooks, consistency, the Hypothesis CI profile), judge each with the "
        "invariant checkers, and write reports/out/ (junit.xml, summary.json, summary.md, "
        "report.html, with code coverage, the fault matrix and, given a load run, its "
        "charts). Exit 0 only if everything passed. --ablate adds the defense ablation "
        "matrix; --target FILE verifies another deployment through its adapter, running the "
        "scenarios its capabilities allow (the report says how many ran, and why the others "
        "did not); --processes runs the reference service in processes of its own.",
    ),
    "ablate": (
        "calharness.commands.ablate",
        "prove the suite bites: switch each defense off in turn and show which scenarios fail",
        "For every defense of the booking service, run the scenarios tagged with it with that "
        "defense switched off. Prints the matrix (defense x scenarios that failed) and exits "
        "non-zero if any defense goes undetected or a tagged scenario still passes.",
    ),
    "explore": (
        "calharness.commands.explore",
        "run the Hypothesis state machine over the whole stack (deep exploration)",
        "Generate sequences of caller actions and upstream misbehaviour, check the invariants "
        "after every step, shrink any failure to the shortest sequence and print a reproducer.",
    ),
    "load": (
        "calharness.commands.load",
        "run Locust load (booking-call flow, 45-second target, correctness gates)",
        "Start the stack (or use --target), run Locust headless in separate processes, write "
        "Locust's CSV/HTML reports and a JSON summary, and exit non-zero when a threshold is "
        "missed: p95 booking_flow, failure ratio, or any invariant violation.",
    ),
    "serve": (
        "calharness.commands.serve",
        "start the embedded stack and keep it running (for poking at it by hand)",
        "Start the fake Cal.com and the booking service on loopback ports, print their URLs, "
        "the demo tenants and API keys, and run until interrupted.",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calharness",
        description="Prove a Cal.com booking integration cannot double-book a slot, lose a "
        "booking or hand one caller another caller's booking - under retries, races, rate "
        "limits, stale upstream answers and load.",
        epilog="Run 'calharness COMMAND --help' for a command's options. "
        "Start with: calharness verify",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, short, long) in COMMANDS.items():
        sub.add_parser(name, help=short, description=long, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or args_list[0] not in COMMANDS:
        if not args_list:
            parser.print_help()
            return 2
        parser.parse_args(args_list)  # prints help or the usage error and exits
        return 2
    name = args_list[0]
    module_name, _short, long = COMMANDS[name]
    module = importlib.import_module(module_name)
    command = argparse.ArgumentParser(prog=f"calharness {name}", description=long)
    module.configure(command)
    args = command.parse_args(args_list[1:])
    from calharness.commands.options import UsageError

    try:
        return int(module.run(args))
    except UsageError as exc:
        print(f"calharness {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
