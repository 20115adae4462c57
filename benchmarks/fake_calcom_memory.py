"""What the fake keeps per booking: RSS after 100k and 1M creates, before/after.

    python benchmarks/fake_calcom_memory.py [--checkpoints 100000,1000000] [--webhook] [--before REF]
                                            [--time-limit 600]

Each measured fake runs in a child process of its own (so RSS is its alone): the create path
without sockets — body parsing, validation, `Backend.create_booking`, the 2024-08-13 answer and
its bytes, as a request does — for distinct free slots of 32 hosts, with the standalone server's
GC policy (long-lived objects frozen). `--webhook` subscribes one webhook, and each queued
delivery is settled as the delivery worker does once it has sent it. `--before REF` measures
the fake as of git REF (its `fake_calcom/` extracted to a temporary directory) the same way.

Printed per checkpoint: RSS, RSS growth per booking since the start, and the thread CPU per
create (which depends on the machine's load: printed with the load average). A child that
reaches `--time-limit` stops and says how far it got.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fake_calcom_throughput import BASE_DAY, HOSTS, SLOT_MINUTES, before_tree, bench_seed_data  # noqa: E402


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def child(checkpoints: list[int], webhook: bool, time_limit: float) -> None:
    """Create bookings up to the last checkpoint, printing one JSON line per checkpoint."""
    import fake_calcom
    from fake_calcom.backend.store import Backend
    from fake_calcom.wire.common import parse_json, success
    from fake_calcom.wire.serializers import booking_2024_08_13
    from fake_calcom.wire.validation import create_2024_08_13

    seed = bench_seed_data()
    if webhook:
        seed["webhooks"] = [{"subscriberUrl": "http://127.0.0.1:9/hook", "secret": "whsec_bench"}]
    backend = Backend(seed_data=seed)
    gc.collect()
    gc.freeze()  # modules and seed data, as `python -m fake_calcom` does at start
    start_rss = rss_bytes()
    began_cpu, began_wall = time.thread_time(), time.monotonic()
    last_cpu, last_n = began_cpu, 0
    slot = timedelta(minutes=SLOT_MINUTES)
    target = checkpoints[-1]
    pending = backend.webhooks.pending
    for i in range(1, target + 1):
        start = (BASE_DAY + slot * ((i - 1) // HOSTS)).strftime("%Y-%m-%dT%H:%M:%SZ")
        raw = (f'{{"start":"{start}","eventTypeId":{3001 + i % HOSTS},"attendee":{{"name":"Caller {i}",'
               f'"email":"caller{i}@example.com","timeZone":"Europe/Berlin"}},'
               f'"metadata":{{"call_id":"call_{i}","idempotency_key":"k{i}"}}}}').encode()
        parsed = create_2024_08_13(parse_json(raw))
        request = parsed.request
        request.event_type_id = parsed.event_type_id or 0
        result = backend.create_booking(request)
        success(booking_2024_08_13(result.booking, backend), 201).encoded()
        while pending:  # the delivery worker sent it
            delivery = pending.popleft()
            settle = getattr(delivery, "settle", None)
            if settle is not None:
                settle()
        if i % 10_000 == 0:
            gc.collect(1)
            gc.freeze()  # what the server's freezer does after a generation-1 collection
        out_of_time = time.monotonic() - began_wall > time_limit
        if i in checkpoints or out_of_time:
            now_cpu = time.thread_time()
            gc.collect(1)
            rss = rss_bytes()
            print(json.dumps({"creates": i, "rss": rss, "per_booking": (rss - start_rss) / i,
                              "cpu_us": (now_cpu - last_cpu) / (i - last_n) * 1e6,
                              "load": os.getloadavg()[0], "out_of_time": out_of_time,
                              "fake": str(Path(fake_calcom.__file__).parent)}), flush=True)
            last_cpu, last_n = now_cpu, i
            if out_of_time:
                return


def measure(label: str, tree: Path | None, args: argparse.Namespace) -> list[dict[str, Any]]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), str(HERE)])
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--checkpoints", args.checkpoints,
               "--time-limit", str(args.time_limit)] + (["--webhook"] if args.webhook else [])
    process = subprocess.run(command, env=env, cwd=tree or HERE.parent, capture_output=True, text=True,
                             timeout=args.time_limit + 120, check=False)
    if process.returncode != 0:
        raise SystemExit(f"{label}: the child failed:\n{process.stderr[-3000:]}")
    return [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", default="100000,300000,1000000",
                        help="creates after which RSS is read (default: %(default)s)")
    parser.add_argument("--webhook", action="store_true", help="one webhook subscription (a delivery per create)")
    parser.add_argument("--before", metavar="REF", help="also measure the fake as of git REF")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per child (default: %(default)s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    if args.child:
        child(checkpoints, args.webhook, args.time_limit)
        return 0
    runs: list[tuple[str, Path | None]] = [("now", None)]
    with tempfile.TemporaryDirectory(prefix="fake-memory-") as tmp:
        if args.before:
            runs.insert(0, (f"@{args.before}", before_tree(args.before, Path(tmp) / "before")))
        print(f"{'fake':12} {'creates':>9} {'RSS MB':>8} {'B/booking':>10} {'cpu µs/create':>14} {'load':>6}")
        results: dict[str, list[dict[str, Any]]] = {}
        for label, tree in runs:
            results[label] = measure(label, tree, args)
            for point in results[label]:
                note = "  (time limit: stopped here)" if point["out_of_time"] else ""
                print(f"{label:12} {point['creates']:9d} {point['rss'] / 2**20:8.1f} {point['per_booking']:10.0f} "
                      f"{point['cpu_us']:14.1f} {point['load']:6.2f}{note}", flush=True)
    if args.before:
        old, new = results[f"@{args.before}"], results["now"]
        for a, b in zip(old, new, strict=False):
            if a["creates"] == b["creates"]:
                print(f"after {a['creates']} creates: {b['per_booking']:.0f} B per booking vs {a['per_booking']:.0f} "
                      f"({b['per_booking'] / a['per_booking']:.0%}); RSS {b['rss'] / 2**20:.0f} MB vs "
                      f"{a['rss'] / 2**20:.0f} MB; started {datetime.now(UTC):%H:%M} UTC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
