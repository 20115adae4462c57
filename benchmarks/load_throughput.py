"""Requests/s Locust sustains against a stack of ours on this machine, before/after.

The ``throughput`` profile: no talk time, no Cal.com latency, no rate limit, a year of calendar
— every Locust user is a tight loop of check-availability → collect-appointment. Runs once per
worker layout (a single local runner, then one master with N workers) and per stack layout:
``embedded`` (the fake and the service on one event loop in the `calharness load` process, as
load runs were) and ``processes`` (each a process of its own, as they are now), alternating, so
the numbers show whether Locust or the stack is the limit and what separate processes change.
Every figure is printed with the load average. Uses MariaDB when HARNESS_MYSQL_URL is set.

    python benchmarks/load_throughput.py         # 20 users, 30 s, workers 0 and 2, both stacks
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workers", default="0,2", help="worker layouts to try")
    parser.add_argument("--stacks", default="embedded,processes", help="stack layouts to try")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="calharness-load-throughput-"))
    print(f"throughput profile, {args.users} users, {args.duration:g} s per run, out {out}")
    for workers in [int(w) for w in args.workers.split(",")]:
        for stack in args.stacks.split(","):
            target = out / f"{stack}-workers-{workers}"
            done = subprocess.run([sys.executable, "-m", "calharness.cli", "load", "--profile",
                                   "throughput", "-u", str(args.users), "--duration",
                                   str(args.duration), "--workers", str(workers), "--stack", stack,
                                   "--out", str(target)], capture_output=True, text=True,
                                  check=False, timeout=args.duration + 300)
            runs = sorted(target.glob("*/summary.json"))
            if not runs:
                print(done.stdout, done.stderr, file=sys.stderr)
                raise SystemExit(f"no summary (exit {done.returncode})")
            s = json.loads(runs[-1].read_text())
            rows = {e["name"]: e for e in s["endpoints"]}
            http = sum(e["num_requests"] for e in s["endpoints"] if e["method"] == "POST")
            print(f"{stack:9} workers {workers}: {http / s['duration_s']:.1f} HTTP requests/s "
                  f"(check p50 {rows['check-availability']['p50_ms']} ms, collect p50 "
                  f"{rows['collect-appointment']['p50_ms']} ms), "
                  f"{s['flow']['count'] / s['duration_s']:.1f} calls/s, failures "
                  f"{s['fail_ratio']:.2%}, verdict {s['verdict']} (exit {done.returncode}), "
                  f"{s['database'].split(' on ')[0]}, load average {os.getloadavg()[0]:.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
