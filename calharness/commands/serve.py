"""`calharness serve` — the stack, kept running, with a ready target file for it.

In this process (default) or as separate processes (`--processes`: `python -m fake_calcom` and
`python -m booking_service serve`, the way a team deploys them). Either way it prints the URLs,
the keys, a curl for each part and a target file, so `calharness verify --target FILE` (or a
person) can drive it. Ctrl-C or SIGTERM stops everything and removes what it created.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType

from booking_service.tenants import demo_tenants
from calharness.commands.console import make_console
from calharness.commands.options import UsageError, add_database_url, add_defense_off, defenses_off
from harness.target import Target, target_toml

#: The fake's first host's key (its default seed data): what its curl and a client use.
FAKE_API_KEY = "cal_live_calharness_anna"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", action="store_true",
                        help="start the fake Cal.com and the service as separate processes "
                        "(out of process) instead of in this one")
    parser.add_argument("--service", default="reference",
                        choices=("reference", "rest-naive", "rest-careful", "rest-careful-hold"),
                        help="which booking service (with --processes): the reference, or the "
                        "REST example of examples/rest_booking in one of its modes")
    parser.add_argument("--no-test-control", action="store_true",
                        help="start the service without its test-control endpoints (a "
                        "black-box target; with --processes)")
    add_database_url(parser, "the service's database (default: a fresh MariaDB database when "
                     "$HARNESS_MYSQL_URL is set, else a temporary SQLite file)")
    add_defense_off(parser)
    parser.add_argument("--rate-limit", action="store_true",
                        help="let the fake Cal.com rate-limit (120 requests/60 s per API key)")
    parser.add_argument("--seed", type=int, default=0, help="the fake's id/uid seed")
    parser.add_argument("--write-target", type=Path, metavar="FILE",
                        help="also write the target file there")


def _stop_on_sigterm() -> None:
    """SIGTERM ends the command like Ctrl-C: the same clean-up runs."""
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def run(args: argparse.Namespace) -> int:
    off = defenses_off(args.defense_off)
    if not args.processes and (args.service != "reference" or args.no_test_control):
        raise UsageError("--service and --no-test-control need --processes")
    _stop_on_sigterm()
    console = make_console()
    if args.processes:
        from calharness.served import ServedOptions, ServedStack

        options = ServedOptions(service=args.service, database_url=args.database_url,
                                defenses_off=off, test_control=not args.no_test_control,
                                calcom_timeout_s=10.0, rate_limit=args.rate_limit,
                                seed=args.seed)
        try:
            with ServedStack(options) as served:
                database = served.database.description if served.database else "its own"
                _announce(console, served.target, database, args.write_target,
                          logs=str(served.log_dir))
                threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopped")
        return 0

    from harness.stack import EmbeddedStack, StackOptions

    stack_options = StackOptions(database_url=args.database_url, defenses_off=off,
                                 seed=args.seed, rate_limit=args.rate_limit,
                                 calcom_timeout_s=10.0, label="serve", allow_docker=False)
    try:
        with EmbeddedStack(stack_options) as stack:
            assert stack.database is not None
            _announce(console, stack.target, stack.database.description, args.write_target)
            threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopped")
    return 0


def _announce(console: object, target: Target, database: str, write_to: Path | None,
              logs: str | None = None) -> None:
    from rich.console import Console

    assert isinstance(console, Console)
    fake = target.calcom_control_url
    console.print(f"[bold]fake Cal.com[/bold]     {fake}  (API key {FAKE_API_KEY}; control "
                  f"plane {fake}/_fake/…)")
    console.print(f"[bold]booking service[/bold]  {target.service_url}  (adapter {target.adapter})")
    console.print(f"database          {database}")
    if logs:
        console.print(f"logs              {logs}")
    if target.test_control_token:
        console.print(f"test control      {target.test_control_url}/_test  (token "
                      f"{target.test_control_token})")
    if target.adapter == "voice":
        for company in demo_tenants()["companies"]:
            console.print(f"tenant {company['name']!r}: API key {company['api_key']}, "
                          f"phone {company['branches'][0]['phone']}")
    console.print("try the fake:     curl -s -H 'Authorization: Bearer "
                  f"{FAKE_API_KEY}' -H 'cal-api-version: 2024-08-13' "
                  f"'{fake}/v2/bookings?take=5'", markup=False, highlight=False)
    if target.adapter == "voice":
        example = {"args": {"datum": "morgen", "uhrzeit": "10:00", "dienstleistung": "Beratung",
                            "call_id": "call_demo_1"}}
        console.print("try the service:  curl -s -X POST -H 'Content-Type: application/json' "
                      f"{target.service_url}/api/retell/check-availability "
                      f"-d '{json.dumps(example)}'", markup=False, highlight=False)
    else:
        console.print(f"try the service:  curl -s '{target.service_url}/healthz'",
                      markup=False, highlight=False)
    text = target_toml(target)
    if write_to is not None:
        write_to.parent.mkdir(parents=True, exist_ok=True)
        write_to.write_text(text, encoding="utf-8")
        console.print(f"target file written: {write_to}  (calharness verify --target {write_to})")
    console.print("target file:")
    console.print(text, markup=False, highlight=False)
    console.print("Ctrl-C (or SIGTERM) stops everything.")
