"""`calharness serve` — the embedded stack, kept running for exploring it by hand."""

from __future__ import annotations

import argparse
import json
import threading

from booking_service.tenants import demo_tenants
from calharness.commands.console import make_console
from harness.stack import EmbeddedStack, StackOptions


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", metavar="URL",
                        help="the service's database (default: a temporary SQLite file)")
    parser.add_argument("--defense-off", default="", metavar="NAME[,NAME]",
                        help="switch these booking-service defenses off")
    parser.add_argument("--rate-limit", action="store_true",
                        help="let the fake Cal.com rate-limit (120 requests/60 s per API key)")
    parser.add_argument("--seed", type=int, default=0, help="the fake's id/uid seed")


def run(args: argparse.Namespace) -> int:
    console = make_console()
    off = tuple(n for n in args.defense_off.split(",") if n)
    options = StackOptions(database_url=args.database_url, defenses_off=off, seed=args.seed,
                           rate_limit=args.rate_limit, calcom_timeout_s=10.0, label="serve",
                           allow_docker=False)
    with EmbeddedStack(options) as stack:
        assert stack.database is not None
        console.print(f"[bold]fake Cal.com[/bold]     {stack.fake_url}  (control plane: "
                      f"{stack.fake_url}/_fake/state)")
        console.print(f"[bold]booking service[/bold]  {stack.service_url}")
        console.print(f"database          {stack.database.description}")
        if off:
            console.print(f"[yellow]defenses OFF: {', '.join(off)}[/yellow]")
        for company in demo_tenants()["companies"]:
            console.print(f"tenant {company['name']!r}: API key {company['api_key']}, "
                          f"phone {company['branches'][0]['phone']}")
        example = {"args": {"datum": "morgen", "uhrzeit": "10:00", "dienstleistung": "Beratung",
                            "call_id": "call_demo_1"}}
        console.print("try:  curl -s -X POST -H 'Content-Type: application/json' "
                      f"{stack.service_url}/api/retell/check-availability -d '{json.dumps(example)}'",
                      markup=False, highlight=False)
        console.print("Ctrl-C stops both.")
        threading.Event().wait()  # until interrupted
    return 0
