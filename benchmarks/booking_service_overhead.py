"""The booking service's own overhead per booking, and bookings per second, on SQLite and MariaDB.

The fake Cal.com and the service run as their own processes (`python -m fake_calcom`,
`python -m booking_service serve`); this script is the voice agent. The fake answers at zero
added latency, with rate limiting and its journal off. Every booking is a real
`collect-appointment` for a distinct free slot, through every defense (double-check with a
Cal.com slots call, slot lock, create, the three answer checks, uid check, insert).

Overhead = the service's total time minus its time waiting on Cal.com, both from the
`Server-Timing` header the service sets on every answer. Targets (seeds/002): overhead
< 50 ms p95, > 100 bookings/s.

    python benchmarks/booking_service_overhead.py                       # SQLite (+ MariaDB if HARNESS_MYSQL_URL)
    python benchmarks/booking_service_overhead.py --databases sqlite --bookings 2000 --concurrency 8,32,64
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import sqlalchemy as sa
from sqlalchemy.engine import make_url

BERLIN = ZoneInfo("Europe/Berlin")
HOSTS = 8  # one 15-minute event type per host, working around the clock
SLOT_MINUTES = 15
TARGET_OVERHEAD_MS = 50.0
TARGET_RATE = 100.0


def seed_data() -> dict[str, Any]:
    all_week = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    return {
        "hosts": [
            {
                "id": 500 + i,
                "username": f"host-{i}",
                "name": f"Host {i}",
                "email": f"host{i}@bench.example",
                "timeZone": "Europe/Berlin",
                "workingHours": [{"days": all_week, "startTime": "00:00", "endTime": "24:00"}],
            }
            for i in range(HOSTS)
        ],
        "apiKeys": [{"key": f"cal_live_bench_{i}", "hostId": 500 + i} for i in range(HOSTS)],
        "eventTypes": [
            {
                "id": 5000 + i,
                "slug": f"bench-{i}",
                "title": f"Bench {i}",
                "lengthInMinutes": SLOT_MINUTES,
                "schedulingType": "individual",
                "hostIds": [500 + i],
                "requiresConfirmation": False,
                "minimumBookingNotice": 0,
                "description": "",
                "location": "",
            }
            for i in range(HOSTS)
        ],
        "webhooks": [],
    }


def tenants() -> dict[str, Any]:
    return {
        "companies": [
            {
                "name": "Benchmark Praxis",
                "api_key": "bs_bench_company",
                "calcom_api_key": "cal_live_bench_0",
                "fallback_email": "termin@bench.example",
                "branches": [
                    {
                        "id": "11111111-2222-4333-8444-555555555555",
                        "name": "Bench",
                        "phone": "+4930999999",
                        "services": [
                            {
                                "name": f"Service {i}",
                                "event_type_id": 5000 + i,
                                "duration": SLOT_MINUTES,
                            }
                            for i in range(HOSTS)
                        ],
                    }
                ],
            }
        ]
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slots(count: int, first_day: datetime) -> Iterator[tuple[int, str, str]]:
    """(service index, datum, uhrzeit) of distinct free slots, spread over hosts and days."""
    produced = 0
    day = first_day
    while True:
        for minute in range(0, 24 * 60, SLOT_MINUTES):
            for host in range(HOSTS):
                local = datetime(
                    day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=BERLIN
                )
                if local.astimezone(UTC).astimezone(BERLIN) != local:
                    continue  # DST gap
                yield host, local.strftime("%d.%m.%Y"), local.strftime("%H:%M")
                produced += 1
                if produced >= count:
                    return
        day += timedelta(days=1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Sample:
    status: str
    total_ms: float
    calcom_ms: float
    client_ms: float

    @property
    def overhead_ms(self) -> float:
        return self.total_ms - self.calcom_ms


def server_timing(header: str) -> tuple[float, float]:
    parts = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";")
        for attribute in rest.split(";"):
            key, _, value = attribute.partition("=")
            if key.strip() == "dur":
                parts[name] = float(value)
    return parts["total"], parts["calcom"]


async def book(
    http: aiohttp.ClientSession, url: str, host: int, datum: str, uhrzeit: str
) -> Sample:
    body = {
        "args": {
            "datum": datum,
            "uhrzeit": uhrzeit,
            "name": "Bench Caller",
            "dienstleistung": f"Service {host}",
            "call_id": f"call_{uuid.uuid4().hex[:20]}",
            "telefon": "+491701234567",
        }
    }
    started = time.perf_counter()
    async with http.post(url + "/api/retell/collect-appointment", json=body) as response:
        answer = await response.json()
        total, calcom = server_timing(response.headers["Server-Timing"])
    return Sample(answer["status"], total, calcom, (time.perf_counter() - started) * 1000)


async def wait_ready(
    url: str, path: str, process: subprocess.Popen[bytes], timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url + path) as response:
                    if response.status < 500:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def mariadb_database(server_url: str) -> Iterator[str]:
    name = f"service_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(make_url(server_url).set(database=""), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}`"))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


async def run(
    database: str, database_url: str, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    seed_file = workdir / "seed.json"
    seed_file.write_text(json.dumps(seed_data()))
    tenants_file = workdir / "tenants.json"
    tenants_file.write_text(json.dumps(tenants()))
    fake_port, service_port = free_port(), free_port()
    fake_url, service_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{service_port}"
    python = sys.executable
    fake_cmd = [
        python,
        "-m",
        "fake_calcom",
        "--port",
        str(fake_port),
        "--no-rate-limit",
        "--no-journal",
        "--quiet",
        "--seed-data",
        str(seed_file),
    ]
    profile = (
        ["-m", "cProfile", "-o", str(args.profile.with_suffix(f".{database}.prof"))]
        if args.profile
        else []
    )
    service_cmd = [
        python,
        *profile,
        "-m",
        "booking_service",
        "--log-level",
        "WARNING",
        "serve",
        "--port",
        str(service_port),
        "--database-url",
        database_url,
        "--calcom-url",
        fake_url,
        "--tenants",
        str(tenants_file),
    ]
    total = args.warmup + args.sequential + args.bookings * len(args.concurrency)
    plan = iter(slots(total, datetime.now(BERLIN) + timedelta(days=2)))
    with (
        process(fake_cmd, workdir / f"fake-{database}.log") as fake,
        process(service_cmd, workdir / f"service-{database}.log") as service,
    ):
        await wait_ready(fake_url, "/_fake/clock", fake)
        await wait_ready(service_url, "/healthz", service)
        connector = aiohttp.TCPConnector(limit=max(args.concurrency))
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(args.warmup):
                await book(http, service_url, *next(plan))
            sequential = [
                await book(http, service_url, *next(plan)) for _ in range(args.sequential)
            ]

            loads = []
            for concurrency in args.concurrency:
                loads.append(
                    await load(
                        http,
                        service_url,
                        [next(plan) for _ in range(args.bookings)],
                        concurrency,
                        service.pid,
                    )
                )
    not_booked = sorted(
        ({s.status for s in sequential} - {"booked"})
        | {x for run in loads for x in run["not_booked"]}
    )
    if not_booked:
        print(f"  warning: some requests were not booked ({', '.join(not_booked)})")
    return {
        "database": database,
        "sequential": len(sequential),
        "overhead_p50_ms": statistics.median(s.overhead_ms for s in sequential),
        "overhead_p95_ms": percentile([s.overhead_ms for s in sequential], 0.95),
        "end_to_end_p50_ms": statistics.median(s.client_ms for s in sequential),
        "calcom_p50_ms": statistics.median(s.calcom_ms for s in sequential),
        "loads": loads,
    }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    http: aiohttp.ClientSession,
    url: str,
    plan: list[tuple[int, str, str]],
    concurrency: int,
    service_pid: int,
) -> dict[str, Any]:
    """`concurrency` callers booking the planned slots as fast as the service answers."""
    pending = list(reversed(plan))
    samples: list[Sample] = []

    async def caller() -> None:
        while pending:
            samples.append(await book(http, url, *pending.pop()))

    cpu_before = cpu_seconds(service_pid)
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(service_pid)
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None and samples:
        cpu_ms = (cpu_after - cpu_before) * 1000 / len(samples)
    return {
        "bookings": len(samples),
        "concurrency": concurrency,
        "service_cpu_ms_per_booking": cpu_ms,
        "bookings_per_s": sum(1 for s in samples if s.status == "booked") / elapsed,
        "overhead_p95_ms": percentile([s.overhead_ms for s in samples], 0.95),
        "end_to_end_p95_ms": percentile([s.client_ms for s in samples], 0.95),
        "not_booked": sorted({s.status for s in samples} - {"booked"}),
    }


def report(result: dict[str, Any]) -> None:
    ok_overhead = "ok" if result["overhead_p95_ms"] < TARGET_OVERHEAD_MS else "MISSED"
    print(f"\n{result['database']}:")
    print(f"  sequential ({result['sequential']} bookings, one at a time)")
    print(
        f"    service overhead   p50 {result['overhead_p50_ms']:6.1f} ms   "
        f"p95 {result['overhead_p95_ms']:6.1f} ms   (target p95 < {TARGET_OVERHEAD_MS:.0f} ms: {ok_overhead})"
    )
    print(
        f"    Cal.com (fake)     p50 {result['calcom_p50_ms']:6.1f} ms   "
        f"end to end p50 {result['end_to_end_p50_ms']:.1f} ms"
    )
    for load in result["loads"]:
        ok_rate = "ok" if load["bookings_per_s"] > TARGET_RATE else "MISSED"
        print(
            f"  under load ({load['bookings']} bookings, {load['concurrency']} concurrent callers)"
        )
        print(
            f"    throughput         {load['bookings_per_s']:6.1f} bookings/s   "
            f"(target > {TARGET_RATE:.0f}: {ok_rate})"
        )
        if load["service_cpu_ms_per_booking"]:
            cpu = load["service_cpu_ms_per_booking"]
            print(
                f"    service CPU        {cpu:6.2f} ms per booking   "
                f"(one core's worth: {1000 / cpu:.0f} bookings/s; the fake and the callers share the box)"
            )
        print(
            f"    service time p95   {load['overhead_p95_ms']:6.1f} ms   "
            f"end to end p95 {load['end_to_end_p95_ms']:.1f} ms   (includes queueing behind the other callers)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_dbs = "sqlite,mariadb" if os.environ.get("HARNESS_MYSQL_URL") else "sqlite"
    parser.add_argument(
        "--databases",
        default=default_dbs,
        help="comma list of sqlite, mariadb (default: %(default)s)",
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("HARNESS_MYSQL_URL"),
        help="MariaDB server URL (env HARNESS_MYSQL_URL)",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="bookings before measuring (default %(default)s)"
    )
    parser.add_argument(
        "--sequential",
        type=int,
        default=300,
        help="bookings one at a time, for overhead percentiles (default %(default)s)",
    )
    parser.add_argument(
        "--bookings",
        type=int,
        default=1000,
        help="bookings under load, for throughput (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[8, 32],
        help="concurrent callers under load, comma list (default 8,32)",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run the service under cProfile, stats to FILE.<database>.prof (pstats format)",
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bs-bench-") as tmp:
        workdir = Path(tmp)
        for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
            if database == "sqlite":
                results.append(
                    asyncio.run(run("sqlite", f"sqlite:///{workdir}/bench.db", args, workdir))
                )
            elif database == "mariadb":
                if not args.mysql_url:
                    print("mariadb: skipped (set HARNESS_MYSQL_URL or --mysql-url)")
                    continue
                with mariadb_database(args.mysql_url) as url:
                    results.append(asyncio.run(run("mariadb", url, args, workdir)))
            else:
                parser.error(f"unknown database {database!r}")
            report(results[-1])
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
