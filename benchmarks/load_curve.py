"""Booking-flow times at several numbers of simultaneous calls (realistic profile).

Runs `calharness load` once per user count (each its own stack — the fake and the service as
processes of their own — and Locust processes)
and prints the booked calls' p50/p95 flow — measured and in real-time seconds (x time factor) —
apart from the refused and given-up calls (and the p95 over every call, which refusals pull
down), with bookings/min, 429s seen and the verdict. Callers pace like phone lines: the
realistic profile has a line take its next call about 30 s (real time) after the last, and a
refused call is one finished call, not a redial at once. Uses MariaDB when HARNESS_MYSQL_URL is
set. Each row ends with the load average.

    python benchmarks/load_curve.py                          # 10, 25, 50 calls, factor 10, 60 s
    python benchmarks/load_curve.py --users 10 --time-factor 1 --duration 300   # unscaled
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(users: int, args: argparse.Namespace, out: Path) -> dict:
    command = [sys.executable, "-m", "calharness.cli", "load", "--profile", args.profile,
               "-u", str(users), "--duration", str(args.duration), "--time-factor",
               str(args.time_factor), "--workers", str(args.workers), "--stack", args.stack,
               "--out", str(out / str(users))]
    if args.spawn_rate:
        command += ["--spawn-rate", str(args.spawn_rate)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=args.duration + 300)
    runs = sorted((out / str(users)).glob("*/summary.json"))
    if not runs:
        print(done.stdout, done.stderr, file=sys.stderr)
        raise SystemExit(f"no summary for {users} users (exit {done.returncode})")
    summary = json.loads(runs[-1].read_text())
    summary["_exit"] = done.returncode
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="10,25,50", help="comma-separated user counts")
    parser.add_argument("--profile", default="realistic")
    parser.add_argument("--time-factor", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=60.0, help="wall seconds per run")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--stack", choices=("processes", "embedded"), default="processes")
    parser.add_argument("--spawn-rate", type=float)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="calharness-load-curve-"))
    print(f"profile {args.profile}, time factor {args.time_factor:g}, {args.duration:g} s per "
          f"run ({args.duration * args.time_factor / 60:.1f} min of real time), out {out}")
    header = (f"{'calls':>5} | {'booked':>6} {'p50 s':>6} {'p95 s':>6} {'real p50':>8} "
              f"{'real p95':>8} | {'refused':>7} {'gave up':>7} {'all p95':>7} | "
              f"{'booked/min':>10} {'real':>6} | {'429s':>5} | verdict")
    print(header)
    print("-" * len(header))
    for users in [int(u) for u in args.users.split(",")]:
        s = run(users, args, out)
        b, f = s["booked_flow"], s["flow"]
        print(f"{users:>5} | {b['count']:>6} {b['p50_s']!s:>6} {b['p95_s']!s:>6} "
              f"{b['unscaled_p50_s']!s:>8} {b['unscaled_p95_s']!s:>8} | "
              f"{s['outcomes']['error']:>7} {s['outcomes']['gave_up']:>7} {f['p95_s']!s:>7} | "
              f"{s['bookings_per_min']!s:>10} {s['unscaled_bookings_per_min']!s:>6} | "
              f"{s['status_429_seen']!s:>5} | {s['verdict']} (exit {s['_exit']}), "
              f"{s['database'].split(' on ')[0]}, load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
