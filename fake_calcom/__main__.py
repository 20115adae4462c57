"""`python -m fake_calcom`: run the fake Cal.com API v2 with its control plane."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
A stateful fake of the Cal.com API v2 that misbehaves on purpose.

It speaks Cal.com's wire format (cal-api-version routing, envelopes, Bearer cal_ keys,
strict validation, rate limits) for bookings, slots, event types, /v2/me and webhooks,
and injects faults described as JSON data (latency, 5xx, resets, stale replays, slot
steals, race barriers, webhook duplicates ...). Drive it through the control plane under
/_fake/ (reset, faults, clock, take-slot, state, journal, stats; see docs/contracts.md §1).
"""

EPILOG = """\
examples:
  python -m fake_calcom                              # 127.0.0.1:8787, default seed data
  python -m fake_calcom --port 9000 --seed 7 --faults plan.json
  python -m fake_calcom --no-rate-limit --no-journal # load mode
  curl -s localhost:8787/_fake/state                 # the ground truth

Example plans ship in fake_calcom/plans/ (incident-stale-replay.json, race-barrier.json,
flaky-upstream.json). A fault plan looks like:
  {"seed": 1, "faults": [{"name": "stale", "match": {"method": "POST", "path": "/v2/bookings"},
                          "trigger": {"kind": "always"},
                          "action": {"kind": "stale_replay", "key": "email+start"}}]}
"""


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fake_calcom",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=_port, default=8787, help="TCP port, 0 for a free one (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of booking ids and uids (default: %(default)s)")
    parser.add_argument("--seed-data", type=Path, metavar="FILE", help="JSON seed data replacing the default hosts, keys and event types")
    parser.add_argument("--faults", type=Path, metavar="FILE", help="JSON fault plan to load at start")
    parser.add_argument("--no-rate-limit", action="store_true", help="turn Cal.com's per-key rate limit off")
    parser.add_argument("--rate-limit-per-minute", type=int, default=120, metavar="N", help="requests per key per 60 s (default: %(default)s)")
    parser.add_argument("--rate-limit-block-s", type=int, default=60, metavar="S", help="block after exceeding the limit (default: %(default)s)")
    parser.add_argument("--no-journal", action="store_true", help="do not record requests (load mode)")
    parser.add_argument("--journal-capacity", type=int, default=2000, metavar="N", help="entries kept in the journal (default: %(default)s)")
    parser.add_argument("--freeze", metavar="ISO", help="start with the virtual clock frozen at this time")
    parser.add_argument("--quiet", action="store_true", help="do not print the seed data")
    return parser


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"error: {what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"error: cannot read {what} file {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise SystemExit(f"error: {what} file {path} is not JSON: {error}") from None


def _days(days: list[str]) -> str:
    """`Mon–Fri` for a run of weekdays, else `Mon,Wed`."""
    from fake_calcom.backend.models import WEEKDAYS

    indexes = sorted(WEEKDAYS.index(d) for d in days)
    if len(indexes) > 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return f"{WEEKDAYS[indexes[0]][:3]}–{WEEKDAYS[indexes[-1]][:3]}"
    return ",".join(WEEKDAYS[i][:3] for i in indexes)


def print_seed_data(seed_data: dict[str, Any], url: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=140)
    hosts = Table(title="Hosts", title_justify="left")
    for column in ("id", "username", "name", "email", "time zone", "working hours"):
        hosts.add_column(column)
    for host in seed_data.get("hosts", []):
        hours = "; ".join(
            f"{_days(rule['days'])} {rule['startTime']}–{rule['endTime']}" for rule in host["workingHours"]
        )
        hosts.add_row(str(host["id"]), host["username"], host["name"], host["email"], host["timeZone"], hours)
    keys = Table(title="API keys", title_justify="left")
    keys.add_column("key")
    keys.add_column("host")
    for key in seed_data.get("apiKeys", []):
        keys.add_row(key["key"], str(key["hostId"]))
    event_types = Table(title="Event types", title_justify="left")
    for column in ("id", "slug", "length", "scheduling", "hosts", "confirmation", "notice"):
        event_types.add_column(column)
    for et in seed_data.get("eventTypes", []):
        event_types.add_row(
            str(et["id"]),
            et["slug"],
            f"{et['lengthInMinutes']} min",
            et["schedulingType"],
            ", ".join(str(h) for h in et["hostIds"]),
            "required" if et.get("requiresConfirmation") else "—",
            f"{et.get('minimumBookingNotice', 0)} min",
        )
    console.print(hosts, keys, event_types)
    console.print(f"[bold]Fake Cal.com[/bold] listening on [cyan]{url}[/cyan]  (control plane: {url}/_fake/…)")


async def serve(args: argparse.Namespace) -> None:
    from fake_calcom.backend.clock import VirtualClock
    from fake_calcom.backend.timefmt import parse_iso
    from fake_calcom.server import FakeServer, install_gc_freezer
    from fake_calcom.wire.state import FakeConfig

    clock = VirtualClock()
    if args.freeze:
        try:
            clock.freeze(parse_iso(args.freeze))
        except ValueError:
            raise SystemExit(f"error: --freeze needs an ISO-8601 time, got {args.freeze!r}") from None
    config = FakeConfig(
        seed=args.seed,
        seed_data=_load_json(args.seed_data, "seed data") if args.seed_data else None,
        faults=_load_json(args.faults, "fault plan") if args.faults else None,
        rate_limit=not args.no_rate_limit,
        rate_limit_per_minute=args.rate_limit_per_minute,
        rate_limit_block_s=args.rate_limit_block_s,
        journal=not args.no_journal,
        journal_capacity=args.journal_capacity,
        clock=clock,
    )
    try:
        server = FakeServer(config, host=args.host, port=args.port)
    except ValueError as error:  # SeedDataError, FaultPlanError
        raise SystemExit(f"error: {error}") from None
    try:
        await server.start()
    except OSError as error:
        raise SystemExit(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    install_gc_freezer(asyncio.get_running_loop())
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: the control plane /_fake/ has no authentication", file=sys.stderr)
    if not args.quiet:
        print_seed_data(server.backend.seed_data(), server.url)
    else:
        print(f"Fake Cal.com listening on {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rate_limit_per_minute < 1 or args.journal_capacity < 1:
        print("error: --rate-limit-per-minute and --journal-capacity must be >= 1", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
