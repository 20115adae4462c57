"""Throughput and latency of the fake Cal.com next to a bare aiohttp endpoint, same run.

    python benchmarks/fake_calcom_throughput.py [--duration 10] [--connections 64] [--loader wrk|python]
                                                [--before REF] [--wiremock JAR|auto|off]

One fake server process (load mode: `--no-rate-limit --no-journal`) and one bare aiohttp process,
load from a third process over loopback: `wrk` (Debian's package, with a Lua
script that gives every create its own slot) or, without wrk, an aiohttp client process.

Measured, each for `--duration` seconds after a short warm-up:
  * bare POST / bare GET   — an aiohttp handler that reads the body and answers fixed bytes
  * bare JSON POST         — the smallest JSON handler: `await request.json()`, `json_response`
  * creates                — POST /v2/bookings (2024-08-13), every request a distinct free slot
                             (stateful: validation, availability, commit, serialisation)
  * slot queries           — GET /v2/slots (2024-09-04) for one day of one event type
  * creates (before)       — with `--before REF`: the same creates against the fake as it was at
                             git REF (its `fake_calcom/` extracted to a temporary directory), in
                             the same alternating rounds, so before/after share the machine's load
  * WireMock static stub   — POST /v2/bookings answered by a WireMock stub with a fixed body, when
                             a JVM and the npm `wiremock` package (its standalone jar) are present;
                             skipped with the reason otherwise
Each at saturation (closed loop, `--connections` connections, no pause) and paced (the same
connections with a pause between requests so the offered load is `--paced-fraction` of the
saturated rate): by Little's law a saturated closed loop's latency is connections / rate, so the
paced run is the one that shows the per-request latency at that connection count.

Targets (issue 2): creates >= 40 % of the bare POST rate; p99 <= 5 ms at 64 connections.
Every figure is printed with the 1-minute load average measured right after its run: the
machine is shared, so ratios from one run matter, absolute req/s do not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOSTS = 32
SLOT_MINUTES = 15
BASE_DAY = datetime(2031, 1, 6, tzinfo=UTC)  # far ahead: no notice or past checks in the way
BENCH_KEY = "cal_live_bench"


def bench_seed_data() -> dict[str, Any]:
    """32 hosts working around the clock, one 15-minute event type each: 3072 slots a day."""
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    hosts, event_types = [], []
    for n in range(HOSTS):
        hosts.append({
            "id": 1 + n, "username": f"bench-{n:02d}", "name": f"Bench Host {n:02d}",
            "email": f"bench{n:02d}@example.com", "timeZone": "UTC",
            "workingHours": [{"days": days, "startTime": "00:00", "endTime": "24:00"}],
        })
        event_types.append({
            "id": 3001 + n, "slug": f"bench-{n:02d}", "title": "Bench", "lengthInMinutes": SLOT_MINUTES,
            "schedulingType": "individual", "hostIds": [1 + n], "minimumBookingNotice": 0,
        })
    return {"hosts": hosts, "apiKeys": [{"key": BENCH_KEY, "hostId": 1}], "eventTypes": event_types, "webhooks": []}


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_bare(port: int) -> None:
    """The baselines: aiohttp handlers with no logic of their own.

    `/bare` reads the body and answers fixed bytes (the floor); `/bare-json` is the smallest
    JSON endpoint one would write (`await request.json()`, `web.json_response`).
    """
    from aiohttp import web

    answer = json.dumps({"status": "success", "data": {"id": 1, "uid": "x" * 22, "status": "accepted"}}).encode()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, status=201 if request.method == "POST" else 200, content_type="application/json")

    async def handle_json(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"status": "success", "data": {"id": 1, "start": body["start"]}}, status=201)

    app = web.Application()
    app.router.add_route("*", "/bare", handle)
    app.router.add_post("/bare-json", handle_json)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def before_tree(ref: str, into: Path) -> Path:
    """`fake_calcom/` as it was at git `ref`, extracted under `into` (for PYTHONPATH)."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "fake_calcom"], capture_output=True, check=True)
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def find_wiremock_jar(choice: str) -> tuple[Path | None, str]:
    """The WireMock standalone jar and why not, when it cannot be used."""
    if choice == "off":
        return None, "--wiremock off"
    if not shutil.which("java"):
        return None, "no JVM (java) on PATH"
    if choice != "auto":
        jar = Path(choice)
        return (jar, "") if jar.is_file() else (None, f"{jar} not found")
    roots = [Path.cwd() / "node_modules", Path(__file__).resolve().parent.parent / "node_modules"]
    if shutil.which("npm"):
        global_root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, check=False).stdout.strip()
        if global_root:
            roots.append(Path(global_root))
    for root in roots:
        jars = sorted((root / "wiremock" / "build").glob("wiremock-standalone-*.jar"))
        if jars:
            return jars[-1], ""
    return None, "the npm package `wiremock` is not installed (npm install wiremock, then --wiremock auto or JAR)"


def wiremock_command(jar: Path, port: int, workdir: Path) -> list[str]:
    """WireMock with one static stub: POST /v2/bookings -> 201 and a booking-sized body."""
    mappings = workdir / "wiremock" / "mappings"
    mappings.mkdir(parents=True, exist_ok=True)
    body = {"status": "success", "data": {"id": 11000001, "uid": "x" * 22, "title": "Bench between Bench Host 00 and Caller",
                                          "status": "accepted", "start": "2031-01-06T00:00:00.000Z",
                                          "end": "2031-01-06T00:15:00.000Z", "attendees": [{"name": "Caller", "email": "caller@example.com"}]}}
    (mappings / "create.json").write_text(json.dumps({
        "request": {"method": "POST", "urlPath": "/v2/bookings"},
        "response": {"status": 201, "jsonBody": body, "headers": {"Content-Type": "application/json"}},
    }))
    return ["java", "-Xmx512m", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
            "--root-dir", str(workdir / "wiremock"), "--no-request-journal", "--disable-banner"]


@contextmanager
def server(command: list[str], port: int, pythonpath: Path | None = None):
    env = None
    if pythonpath is not None:  # an old tree first on the path shadows the installed package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                               cwd=pythonpath or None)
    try:
        deadline = time.monotonic() + 60  # a JVM may take a while on a busy machine
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {process.stderr.read().decode() if process.stderr else ''}") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- load: wrk

WRK_SCRIPT = r"""
local kind, offset, pause_ms, hosts = "create", 0, 0, 32
local counter, thread_id, threads = 0, 0, 1
local base = %(base)d
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  kind = args[1]
  offset = tonumber(args[2])
  pause_ms = tonumber(args[3])
  threads = tonumber(args[4])
  thread_id = id or 0
  math.randomseed(1234 + thread_id)
  if kind == "create" or kind == "bare_post" or kind == "bare_json" then
    wrk.method = "POST"
  else
    wrk.method = "GET"
  end
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer %(key)s"
end

local function create_body()
  local i = offset + counter * threads + thread_id
  counter = counter + 1
  local host = i %% hosts
  local slot = math.floor(i / hosts)
  local start = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", base + slot * %(slot_s)d)
  return string.format('{"start":"%%s","eventTypeId":%%d,"attendee":{"name":"Caller %%d","email":"caller%%d@example.com","timeZone":"Europe/Berlin"},"metadata":{"call_id":"call_%%d","idempotency_key":"k%%d"}}', start, 3001 + host, i, i, i, i)
end

function request()
  if kind == "create" then
    return wrk.format(nil, "/v2/bookings", {["cal-api-version"] = "2024-08-13"}, create_body())
  elseif kind == "bare_post" then
    return wrk.format(nil, "/bare", nil, create_body())
  elseif kind == "bare_json" then
    return wrk.format(nil, "/bare-json", nil, create_body())
  elseif kind == "slots" then
    counter = counter + 1
    local event_type = 3001 + (counter %% hosts)
    local day = os.date("!%%Y-%%m-%%d", base + 86400 * 40)
    return wrk.format(nil, "/v2/slots?eventTypeId=" .. event_type .. "&start=" .. day .. "&end=" .. day,
                      {["cal-api-version"] = "2024-09-04"}, nil)
  else
    return wrk.format(nil, "/bare", nil, nil)
  end
end

function delay()
  -- Exponential think time (mean pause_ms): Poisson-like arrivals instead of 64 connections
  -- firing in lock-step bursts, which would measure the burst, not the request.
  if pause_ms == 0 then return 0 end
  return math.floor(-math.log(1 - math.random()) * pause_ms)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"errors":%%d,' ..
    '"p50_ms":%%.3f,"p90_ms":%%.3f,"p99_ms":%%.3f,"max_ms":%%.3f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def run_wrk(script: Path, url: str, kind: str, connections: int, seconds: float, offset: int, pause_ms: int) -> dict[str, Any]:
    threads = 1  # two cores: one for the server, one for the load
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(script), url, "--", kind, str(offset), str(pause_ms), str(threads),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    result = json.loads(line[len("BENCH_JSON "):])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


# --------------------------------------------------------------------------- load: python fallback


def python_load(url: str, kind: str, connections: int, seconds: float, offset: int, pause_ms: int) -> dict[str, Any]:
    """An aiohttp client process (slower than wrk: the client may be the bottleneck)."""
    command = [sys.executable, __file__, "--load-worker", url, kind, str(connections), str(seconds), str(offset), str(pause_ms)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


async def _load_worker(url: str, kind: str, connections: int, seconds: float, offset: int, pause_ms: int) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    non2xx = errors = 0
    counter = offset
    deadline = time.perf_counter() + seconds

    def next_request() -> tuple[str, str, dict[str, str], bytes | None]:
        nonlocal counter
        i, counter = counter, counter + 1
        headers = {"Authorization": f"Bearer {BENCH_KEY}", "Content-Type": "application/json"}
        if kind in ("create", "bare_post", "bare_json"):
            start = datetime.fromtimestamp(BASE_DAY.timestamp() + (i // HOSTS) * SLOT_MINUTES * 60, UTC)
            body = json.dumps({"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventTypeId": 3001 + i % HOSTS,
                               "attendee": {"name": f"Caller {i}", "email": f"caller{i}@example.com", "timeZone": "Europe/Berlin"},
                               "metadata": {"call_id": f"call_{i}"}}).encode()
            if kind == "create":
                return "POST", url + "/v2/bookings", {**headers, "cal-api-version": "2024-08-13"}, body
            return "POST", url + ("/bare-json" if kind == "bare_json" else "/bare"), headers, body
        if kind == "slots":
            day = datetime.fromtimestamp(BASE_DAY.timestamp() + 86400 * 40, UTC).strftime("%Y-%m-%d")
            path = f"/v2/slots?eventTypeId={3001 + i % HOSTS}&start={day}&end={day}"
            return "GET", url + path, {**headers, "cal-api-version": "2024-09-04"}, None
        return "GET", url + "/bare", headers, None

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal non2xx, errors
        while time.perf_counter() < deadline:
            method, target, headers, body = next_request()
            began = time.perf_counter()
            try:
                async with session.request(method, target, headers=headers, data=body) as response:
                    await response.read()
                    if not 200 <= response.status < 300:
                        non2xx += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - began)
            if pause_ms:
                await asyncio.sleep(random.expovariate(1000 / pause_ms))

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else 0.0

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "non2xx": non2xx, "errors": errors,
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": latencies[-1] * 1000 if latencies else 0.0}


# --------------------------------------------------------------------------- the run


@dataclass
class Row:
    name: str
    mode: str
    result: dict[str, Any]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default: %(default)s)")
    parser.add_argument("--paced", default="0.25,0.5", metavar="FRACTIONS",
                        help="offered loads of the paced runs, as fractions of each endpoint's saturated rate "
                             "(default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="saturated runs per endpoint, best kept (default: %(default)s)")
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--before", metavar="REF",
                        help="also measure creates against fake_calcom/ as of git REF (e.g. main), interleaved")
    parser.add_argument("--wiremock", default="auto", metavar="JAR|auto|off",
                        help="WireMock standalone jar for the static-stub comparison; auto looks in node_modules "
                             "(npm install wiremock) and npm's global root (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load-worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.load_worker:
        url, kind, connections, seconds, offset, pause = args.load_worker
        print(json.dumps(asyncio.run(_load_worker(url, kind, int(connections), float(seconds), int(offset), int(pause)))))
        return 0

    loader = args.loader
    if loader == "auto":
        loader = "wrk" if shutil.which("wrk") else "python"
    if loader == "wrk" and not shutil.which("wrk"):
        print("wrk not found (apt-get install wrk), use --loader python", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="fake-calcom-bench-"))
    script = workdir / "load.lua"
    script.write_text(WRK_SCRIPT % {"base": int(BASE_DAY.timestamp()), "key": BENCH_KEY, "slot_s": SLOT_MINUTES * 60})
    seed = workdir / "seed.json"
    seed.write_text(json.dumps(bench_seed_data()))
    offset = 0

    pids: dict[str, int] = {}

    def load(url: str, kind: str, seconds: float, pause_ms: int = 0) -> dict[str, Any]:
        nonlocal offset
        pid = pids.get(url)
        before = cpu_seconds(pid) if pid else None
        if loader == "wrk":
            result = run_wrk(script, url, kind, args.connections, seconds, offset, pause_ms)
        else:
            result = python_load(url, kind, args.connections, seconds, offset, pause_ms)
        after = cpu_seconds(pid) if pid else None
        # Server CPU per request: what one dedicated core would cost, whatever else the
        # machine is doing (the req/s columns depend on what the neighbours leave us).
        result["cpu_us"] = (after - before) / result["requests"] * 1e6 if before is not None and after is not None and result["requests"] else float("nan")
        result["load"] = os.getloadavg()[0]  # what the neighbours were doing meanwhile
        offset += result["requests"] + 100_000  # every create gets a slot never used before
        return result

    fractions = [float(f) for f in args.paced.split(",") if f.strip()]

    def pause_for(rate: float, fraction: float) -> int:
        # Each connection: one request, then a pause; connections / pause ≈ offered rate.
        return max(1, round(args.connections / (rate * fraction) * 1000))

    endpoints = [  # (name, which server, load kind)
        ("bare aiohttp POST", "bare", "bare_post"),
        ("bare aiohttp JSON POST", "bare", "bare_json"),
        ("bare aiohttp GET", "bare", "bare_get"),
        ("fake: create booking", "fake", "create"),
        ("fake: GET /v2/slots (1 day)", "fake", "slots"),
    ]
    ports = {"bare": free_port(), "fake": free_port()}
    commands = {
        "bare": ([sys.executable, __file__, "--serve-bare", str(ports["bare"])], None),
        "fake": ([sys.executable, "-m", "fake_calcom", "--port", str(ports["fake"]), "--no-rate-limit",
                  "--no-journal", "--quiet", "--seed-data", str(seed)], None),
    }
    if args.before:
        tree = before_tree(args.before, workdir / "before")
        ports["before"] = free_port()
        commands["before"] = ([sys.executable, "-m", "fake_calcom", "--port", str(ports["before"]), "--no-rate-limit",
                               "--no-journal", "--quiet", "--seed-data", str(seed)], tree)
        endpoints.append((f"fake @{args.before}: create booking", "before", "create"))
    jar, why_not = find_wiremock_jar(args.wiremock)
    if jar is not None:
        ports["wiremock"] = free_port()
        commands["wiremock"] = (wiremock_command(jar, ports["wiremock"], workdir), None)
        endpoints.append(("WireMock static stub POST", "wiremock", "create"))
    rows: list[Row] = []
    # Every server stays up (an idle one costs nothing) so the saturated runs can alternate:
    # each endpoint's best of --repeat runs, so a burst of other work on the machine does not
    # bias one side of the comparison.
    with ExitStack() as stack:
        for where, (command, tree) in commands.items():
            process = stack.enter_context(server(command, ports[where], pythonpath=tree))
            url = f"http://127.0.0.1:{ports[where]}"
            pids[url] = process.pid
        urls = {where: f"http://127.0.0.1:{port}" for where, port in ports.items()}
        for _, where, kind in endpoints:
            load(urls[where], kind, args.warmup * (5 if where == "wiremock" else 1))  # the JIT warms up
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for name, where, kind in endpoints:
                result = load(urls[where], kind, args.duration)
                if name not in best or result["rps"] > best[name]["rps"]:
                    best[name] = result
        for name, where, kind in endpoints:
            rows.append(Row(name, "saturated", best[name]))
            for fraction in fractions:
                paced = load(urls[where], kind, args.duration, pause_for(best[name]["rps"], fraction))
                rows.append(Row(name, f"paced {fraction:.0%}", paced))

    print(f"\nloader: {loader}, {args.connections} connections, {args.duration:g} s per run; saturated: best of "
          f"{args.repeat} alternating runs; paced runs offer the given share of each endpoint's saturated rate "
          f"(exponential pauses); python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n")
    header = (f"{'endpoint':30} {'mode':11} {'req/s':>9} {'cpu µs/req':>10} {'p50 ms':>8} {'p90 ms':>8} "
              f"{'p99 ms':>8} {'max ms':>8} {'non-2xx':>8} {'errors':>7} {'load':>5}")
    print(header)
    print("-" * len(header))
    for row in rows:
        r = row.result
        print(f"{row.name:30} {row.mode:11} {r['rps']:9.0f} {r['cpu_us']:10.1f} {r['p50_ms']:8.2f} {r['p90_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['max_ms']:8.2f} {r['non2xx']:8d} {r['errors']:7d} {r['load']:5.2f}")

    def find(name: str, mode: str) -> dict[str, Any]:
        return next(r.result for r in rows if r.name == name and r.mode == mode)

    print()
    creates = [name for name, _, kind in endpoints if kind == "create" and not name.startswith("WireMock")]
    references = ["bare aiohttp POST", "bare aiohttp JSON POST"]
    if jar is not None:
        references.append("WireMock static stub POST")
    else:
        print(f"WireMock comparison skipped: {why_not}")
    for create_name in creates:
        create = find(create_name, "saturated")
        print(f"{create_name}: {create['cpu_us']:.1f} µs server CPU per create (load {create['load']:.2f})")
        for reference_name in references:
            reference = find(reference_name, "saturated")
            ratio = create["rps"] / reference["rps"]
            verdict = f" (target >= 40 %): {'ok' if ratio >= 0.4 else 'MISSED'}" if reference_name == "bare aiohttp POST" else ""
            print(f"  ÷ {reference_name}: {ratio:.0%} by req/s, {reference['cpu_us'] / create['cpu_us']:.0%} by server CPU "
                  f"per request{verdict} (load {reference['load']:.2f})")
    for fraction in fractions:
        paced = find("fake: create booking", f"paced {fraction:.0%}")
        print(f"create p99 at {args.connections} connections, {paced['rps']:.0f} req/s ({fraction:.0%} of capacity): "
              f"{paced['p99_ms']:.2f} ms (target <= 5 ms): {'ok' if paced['p99_ms'] <= 5 else 'MISSED'} "
              f"(load {paced['load']:.2f})")
    if args.json:
        print(json.dumps([{"endpoint": r.name, "mode": r.mode, **r.result} for r in rows], indent=1))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
