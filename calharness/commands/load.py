"""`calharness load` — Locust load runs that gate on the 45-second booking flow *and* on
correctness.

How many simultaneous phone calls can the service book for while the whole booking flow stays
under 45 s, given Cal.com's latency and its 120 requests/min per API key — and does anything get
double-booked or lost on the way?

This process starts the stack — the fake Cal.com (with the profile's latency, rate limit and
faults, journal off) and the booking service, each a process of its own (`--stack embedded`:
both on one event loop in this process, as before) — or uses a target file, then runs Locust headless
as separate processes (one master + N workers, or one local runner) pointed at the service. The
Locust master judges the run (thresholds and every invariant checker over the merged history,
the service's view and Cal.com's ground truth) and exits with the verdict; this command returns
that exit code: 0 passed, 1 threshold missed, 3 invariant violated, 4 not judged, 5 timed out,
2 bad usage (or Locust crashed).

Reports land in ``--out/<time>-<profile>/``: Locust's ``locust_stats.csv`` … and
``locust.html``, our ``summary.json``, ``load-summary.json`` (``reports.LoadSummary`` for
``calharness verify``'s report), ``history.jsonl`` and ``verdicts.json``.

``--baseline FILE`` compares the run with an earlier one (calharness.load_support.baseline) and
exits 1 naming every figure that regressed beyond ``--regression-threshold`` (default 10 %).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booking_service.settings import DEFENSE_NAMES
from calharness.commands.options import UsageError
from calharness.commands.options import defenses_off as parse_defenses_off
from loadtests.distributions import Distribution, DistributionError
from loadtests.judge import (
    EXIT_INVARIANT,
    EXIT_THRESHOLD,
    EXIT_UNJUDGED,
    FLOW,
    LoadConfig,
    Target,
)
from loadtests.profile import FAULT_MIX_KINDS, PROFILES, LoadProfile, Thresholds, Upstream
from reports.model import LoadSummary

EXIT_USAGE = 2
DEFAULT_CAPACITY_STEPS = (5, 10, 15, 20, 25, 30, 40, 50)
DEMO_COMPANY_KEYS = ("bs_demo_berlin", "bs_demo_hamburg")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "profiles:\n" + "\n".join(f"  {p.name:<11} {p.description}" for p in PROFILES.values())
        + "\n\nexamples:\n"
        "  calharness load --profile smoke                      # the CI smoke run (~25 s)\n"
        "  calharness load --profile smoke --defense-off slot_lock   # must fail (exit 3)\n"
        "  calharness load -u 25 --duration 90 --time-factor 10      # realistic, compressed\n"
        "  calharness load --workers 2 -u 50                    # 1 master + 2 worker processes\n"
        "  calharness load --find-capacity --time-factor 10 --duration 60\n"
        "  calharness load --worker --master-host 10.0.0.5 --master-port 5557  # another box\n"
        "\nexit codes: 0 passed, 1 threshold missed, 3 invariant violated, 4 not judged,\n"
        "            5 timed out, 2 bad usage or Locust crashed")
    shape = parser.add_argument_group("the run")
    shape.add_argument("--profile", default="realistic",
                       help=f"a named profile ({', '.join(PROFILES)}) or a profile JSON file "
                            "(default: realistic)")
    shape.add_argument("-u", "--users", type=int,
                       help="simultaneous phone calls (Locust users; default from the profile)")
    shape.add_argument("--spawn-rate", type=float,
                       help="calls started per second while ramping up (default: all at once)")
    shape.add_argument("--duration", type=float,
                       help="wall-clock seconds of load (default from the profile)")
    shape.add_argument("--time-factor", type=float,
                       help="compress time by this factor: talk times, Cal.com latency, the "
                            "rate-limit window, the service's timeouts and the p95 target are "
                            "all divided by it (default from the profile: realistic 1, smoke 10)")
    shape.add_argument("--seed", type=int, help="seed of every caller's choices (default 0)")
    callers = parser.add_argument_group("callers (durations unscaled, in seconds)")
    callers.add_argument("--think", help="talk time between the availability check and the "
                                         "collect: fixed:S | uniform:MIN:MAX | "
                                         "lognormal:MEDIAN:SIGMA | exponential:MEAN "
                                         "(default lognormal:14:0.3, the incident's 14 s)")
    callers.add_argument("--retry-think", help="time to pick an offered alternative "
                                               "(default lognormal:5:0.3)")
    callers.add_argument("--between-calls", help="pause before a line takes its next call "
                                                 "(default fixed:0)")
    callers.add_argument("--max-attempts", type=int,
                         help="collects per call before the caller gives up (default 3)")
    upstream = parser.add_argument_group("the fake Cal.com and the service (a stack of ours only)")
    upstream.add_argument("--calcom-median-ms", type=float,
                          help="median Cal.com latency, lognormal (default 400; 0 = none)")
    upstream.add_argument("--calcom-sigma", type=float,
                          help="sigma of the latency's lognormal (default 0.6)")
    upstream.add_argument("--rate-limit", type=int, metavar="PER_MINUTE",
                          help="requests per minute per API key (default 120)")
    upstream.add_argument("--no-rate-limit", action="store_true", help="switch rate limiting off")
    upstream.add_argument("--fault-mix", metavar="KIND=P,...",
                          help="add upstream faults with probabilities: "
                               + "; ".join(f"{k}: {v}" for k, v in FAULT_MIX_KINDS.items()))
    upstream.add_argument("--defense-off", action="append", default=[], metavar="NAME",
                          help="switch a booking-service defense off (repeatable or "
                               "comma-separated): " + ", ".join(DEFENSE_NAMES))
    upstream.add_argument("--database-url",
                          help="the service's database (default: HARNESS_DB_URL, a fresh "
                               "database on HARNESS_MYSQL_URL, or SQLite)")
    upstream.add_argument("--stack", choices=("processes", "embedded"), default="processes",
                          help="processes (default): the fake and the service each in a process "
                               "of its own, so they, the Locust master and its workers get a "
                               "core each; embedded: both on one event loop in this process "
                               "(what load runs did before, kept to compare with)")
    upstream.add_argument("--target", type=Path, metavar="FILE",
                          help="load an external deployment instead of a stack of ours: "
                               "the TOML target file of `calharness verify --target` "
                               "(harness/target.py); it must allow booking")
    gates = parser.add_argument_group("thresholds (checked on the Locust master)")
    gates.add_argument("--target-p95", type=float, metavar="SECONDS",
                       help="p95 of booking_flow in real-time seconds (default 45; divided by "
                            "the time factor)")
    gates.add_argument("--max-fail-ratio", type=float,
                       help="largest allowed share of failed requests (default 0.05)")
    dist = parser.add_argument_group("distributed mode")
    dist.add_argument("--workers", type=int, default=0,
                      help="local Locust worker processes under one master (default 0: a single "
                           "local runner)")
    dist.add_argument("--remote-workers", type=int, default=0,
                      help="further workers the master waits for, started on other machines "
                           "with --worker (needs a --target reachable from them)")
    dist.add_argument("--master-bind-host", default="127.0.0.1",
                      help="where the master listens for workers (default 127.0.0.1)")
    dist.add_argument("--master-port", type=int,
                      help="the master's port (default: a free one; give one for remote workers)")
    dist.add_argument("--worker", action="store_true",
                      help="only start worker processes pointed at a running master "
                           "(--master-host, --master-port)")
    dist.add_argument("--master-host", help="the master to connect to (with --worker)")
    dist.add_argument("--processes", type=int, default=1,
                      help="worker processes to start with --worker (default 1)")
    capacity = parser.add_argument_group("capacity search")
    capacity.add_argument("--find-capacity", action="store_true",
                          help="run step after step with more simultaneous calls and report the "
                               "largest count whose p95 booking_flow stays under the target, "
                               "with the curve")
    capacity.add_argument("--capacity-steps", metavar="N,N,...",
                          help="user counts to try, ascending (default "
                               + ",".join(map(str, DEFAULT_CAPACITY_STEPS)) + ")")
    capacity.add_argument("--keep-going", action="store_true",
                          help="run every step even after one missed the target")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, default=Path("loadtests/out"),
                        help="where run directories go (default loadtests/out)")
    output.add_argument("--timeout", type=float,
                        help="stop a run that takes longer than this (default: duration + 180 s)")
    compare = parser.add_argument_group("regressions")
    compare.add_argument("--baseline", type=Path, metavar="FILE",
                         help="an earlier run to compare with: its summary.json or "
                              "load-summary.json (capacity.json with --find-capacity); a figure "
                              "worse by more than --regression-threshold fails the run (exit 1) "
                              "and is named")
    compare.add_argument("--regression-threshold", default="10%", metavar="PCT",
                         help="how much worse a figure may get before it counts as a "
                              "regression (default 10%%; the failure ratio: 1 point)")


# -- building the profile ----------------------------------------------------------------------


def _dist(spec: str, option: str) -> Distribution:
    try:
        return Distribution.parse(spec)
    except DistributionError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _fault_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, value = part.partition("=")
        if not sep or kind.strip() not in FAULT_MIX_KINDS:
            raise UsageError(f"--fault-mix: expected KIND=P with KIND one of "
                             f"{', '.join(FAULT_MIX_KINDS)}, got {part!r}")
        try:
            mix[kind.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--fault-mix: {part!r}: probability must be a number") from None
    return mix


def build_profile(args: argparse.Namespace) -> LoadProfile:
    """The named (or file) profile with the command line's changes."""
    name = args.profile
    if name in PROFILES:
        profile = PROFILES[name]
    elif Path(name).is_file():
        try:
            profile = LoadProfile.loads(Path(name).read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--profile {name}: not a usable profile: {exc}") from None
    else:
        raise UsageError(f"--profile: {name!r} is neither a named profile "
                         f"({', '.join(PROFILES)}) nor a file")
    changes: dict[str, Any] = {}
    for option, field_name in (("users", "users"), ("spawn_rate", "spawn_rate"),
                               ("duration", "duration_s"), ("time_factor", "time_factor"),
                               ("seed", "seed"), ("max_attempts", "max_attempts")):
        value = getattr(args, option)
        if value is not None:
            changes[field_name] = value
    for option, field_name in (("think", "think"), ("retry_think", "retry_think"),
                               ("between_calls", "between_calls")):
        value = getattr(args, option)
        if value is not None:
            changes[field_name] = _dist(value, "--" + option.replace("_", "-"))
    up = profile.upstream
    up_changes: dict[str, Any] = {}
    if args.calcom_median_ms is not None:
        up_changes["latency_median_ms"] = args.calcom_median_ms or None
    if args.calcom_sigma is not None:
        up_changes["latency_sigma"] = args.calcom_sigma
    if args.rate_limit is not None:
        up_changes["rate_limit_per_minute"] = args.rate_limit
    if args.no_rate_limit:
        up_changes["rate_limit"] = False
    if args.fault_mix is not None:
        up_changes["fault_mix"] = {**up.fault_mix, **_fault_mix(args.fault_mix)}
    th_changes: dict[str, Any] = {}
    if args.target_p95 is not None:
        th_changes["p95_flow_s"] = args.target_p95
    if args.max_fail_ratio is not None:
        th_changes["max_fail_ratio"] = args.max_fail_ratio
    try:
        if up_changes:
            changes["upstream"] = Upstream(**{**_fields(up), **up_changes})
        if th_changes:
            changes["thresholds"] = Thresholds(**{**_fields(profile.thresholds), **th_changes})
        return profile.with_changes(**changes)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


# -- where the load goes -------------------------------------------------------------------------


@dataclass
class Prepared:
    """A target ready for a run: its URLs, and how to bring it back to a clean slate."""

    target: Target
    database: str
    stack: Any = None  # the EmbeddedStack or ServedStack, when we started one
    control: Any = None  # the fake's control plane (FakeControl), when the stack is ours

    def configure_upstream(self, profile: LoadProfile) -> None:
        """The fake's rate limit and fault plan for ``profile`` (a stack of ours only)."""
        if self.control is None:
            return
        self.control.set_journal(enabled=False)
        self.control.set_rate_limit(**profile.rate_limit())
        self.control.set_faults(profile.fault_plan())

    def reset(self, profile: LoadProfile) -> None:
        if self.stack is not None:
            self.stack.reset()
            self.configure_upstream(profile)


@contextlib.contextmanager
def stack_log(path: Path) -> Iterator[None]:
    """Under load the embedded service and fake log per request (slot-lock and rate-limit waits,
    errors with tracebacks): send their logs to a file in the run directory, not the console."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("booking_service", "fake_calcom", "aiohttp")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO if lg.name == "booking_service" else logging.WARNING)
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        handler.close()


@contextlib.contextmanager
def prepared_target(args: argparse.Namespace, profile: LoadProfile,
                    defenses_off: tuple[str, ...], log_path: Path) -> Iterator[Prepared]:
    if args.target is not None:
        yield _external_target(args.target)
        return
    if getattr(args, "stack", "processes") == "embedded":
        with _embedded(args, profile, defenses_off, log_path) as prepared:
            yield prepared
        return
    with _processes(args, profile, defenses_off, log_path) as prepared:
        yield prepared


@contextlib.contextmanager
def _processes(args: argparse.Namespace, profile: LoadProfile,
               defenses_off: tuple[str, ...], log_path: Path) -> Iterator[Prepared]:
    """The fake and the service as processes of their own (`calharness.served`): each gets a
    core of its own, next to the Locust master and workers, instead of sharing one event loop
    in this process. Their logs go to the run directory (`stack/`)."""
    from calharness.served import ServedOptions, ServedStack, StartError
    from fake_calcom.client import FakeControl

    settings = profile.service_settings()
    options = ServedOptions(database_url=args.database_url, defenses_off=defenses_off,
                            seed=profile.seed, rate_limit=profile.upstream.rate_limit,
                            journal=False, calcom_timeout_s=settings.pop("calcom_timeout_s"),
                            service_settings=settings, replica=False,
                            log_dir=log_path.parent / "stack")
    try:
        stack = ServedStack(options).start()
    except StartError as exc:
        raise UsageError(f"the stack did not start: {exc}") from None
    try:
        stack.subscribe_webhooks()
        prepared = Prepared(
            target=Target(service_url=stack.service_url, fake_url=stack.fake_url,
                          control_url=stack.service_url, control_token=stack.token,
                          company_keys=DEMO_COMPANY_KEYS),
            database=stack.database.description if stack.database else "unknown",
            stack=stack, control=FakeControl(stack.fake_url))
        prepared.configure_upstream(profile)
        yield prepared
    finally:
        stack.stop()


@contextlib.contextmanager
def _embedded(args: argparse.Namespace, profile: LoadProfile,
              defenses_off: tuple[str, ...], log_path: Path) -> Iterator[Prepared]:
    """The fake and the service on one event loop in this process (`--stack embedded`): what
    load runs did before they started processes, kept to compare with."""
    from harness.stack import EmbeddedStack, StackOptions

    settings = profile.service_settings()
    options = StackOptions(database_url=args.database_url, defenses_off=defenses_off,
                           seed=profile.seed, rate_limit=profile.upstream.rate_limit,
                           journal=False, calcom_timeout_s=settings.pop("calcom_timeout_s"),
                           service_settings=settings, label="load")
    with stack_log(log_path), EmbeddedStack(options) as stack:
        prepared = Prepared(
            target=Target(service_url=stack.service_url, fake_url=stack.fake_url,
                          control_url=stack.service_url, control_token=stack.token,
                          company_keys=DEMO_COMPANY_KEYS),
            database=stack.database.description if stack.database else "unknown",
            stack=stack, control=stack.control)
        prepared.configure_upstream(profile)
        yield prepared


def _external_target(path: Path) -> Prepared:
    """A deployment described by the same TOML target file `calharness verify --target` reads
    (harness/target.py). Load books real test appointments, so the file must allow booking; the
    run is bounded by --duration and the user count rather than by max_requests."""
    from harness.target import TargetError, load_target

    try:
        target = load_target(path)
    except TargetError as exc:
        raise UsageError(f"--target {path}: {exc}") from None
    if not target.allow_booking:
        raise UsageError(f"--target {path}: a load run books appointments; set "
                         "allow_booking = true in the target file to allow it")
    keys = tuple(company.api_key for company in target.companies.values())
    return Prepared(target=Target(service_url=target.service_url,
                                  fake_url=target.calcom_control_url,
                                  control_url=target.test_control_url,
                                  control_token=target.test_control_token, company_keys=keys),
                    database="the target's own (external deployment)")


# -- one run ---------------------------------------------------------------------------------------


def run_dir_for(out: Path, profile: LoadProfile, suffix: str = "") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = out / f"{stamp}-{profile.name}{suffix}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_once(profile: LoadProfile, prepared: Prepared, run_dir: Path, args: argparse.Namespace,
             defenses_off: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
    """One Locust run; returns (exit code, summary)."""
    from calharness.load_support.processes import LocustRun, run_locust

    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    config = LoadConfig(profile=profile, target=prepared.target, run_dir=str(run_dir),
                        run_tag=f"ld{secrets.token_hex(3)}", workers=args.workers,
                        database=prepared.database, defenses_off=defenses_off)
    (run_dir / "load-config.json").write_text(json.dumps(json.loads(config.dumps()), indent=2),
                                              encoding="utf-8")
    timeout = args.timeout if args.timeout is not None else profile.duration_s + 180
    with load_progress(profile, run_dir) as watch:
        code = run_locust(LocustRun(
            run_dir=run_dir, config_json=config.dumps(), host=prepared.target.service_url,
            users=profile.users, spawn_rate=profile.effective_spawn_rate, workers=args.workers,
            remote_workers=args.remote_workers, master_bind_host=args.master_bind_host,
            master_port=args.master_port, timeout_s=timeout), watch=watch)
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        # Locust itself failed (it never got to judge): say why, from its own log.
        log = run_dir / "locust-master.log"
        print(f"calharness load: Locust failed before judging the run (exit {code}): "
              f"{_last_error(log)} (see {log})", file=sys.stderr)
        return EXIT_USAGE, {}
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    (run_dir / "load-summary.json").write_text(
        json.dumps(load_summary(summary).to_json(), indent=2), encoding="utf-8")
    if code == 0 and summary.get("exit_code"):
        code = int(summary["exit_code"])  # never report success the master did not give
    return code, summary


@contextlib.contextmanager
def load_progress(profile: LoadProfile, run_dir: Path) -> Iterator[Any]:
    """On a terminal, a live line from Locust's own stats file (rewritten every second or two):
    users, requests so far, the booking flow's p95 so far, time left. Nothing otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    stats = run_dir / "locust_stats.csv"
    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.fields[line]}"), console=console, transient=True) as bar:
        task = bar.add_task(f"load: {profile.users} calls", total=profile.duration_s, line="")

        def watch() -> None:
            requests, p95 = _stats_so_far(stats)
            elapsed = time.monotonic() - started
            left = max(0.0, profile.duration_s - elapsed)
            bar.update(task, completed=min(elapsed, profile.duration_s),
                       line=f"{requests} requests · booking_flow p95 "
                       f"{'-' if p95 is None else f'{p95 / 1000:.1f} s'} · {left:.0f} s left")

        yield watch


def _stats_so_far(path: Path) -> tuple[int, float | None]:
    """(requests, booking_flow p95 in ms) from Locust's stats CSV, as far as it is written."""
    import csv

    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error):
        return 0, None
    total = next((r for r in rows if r.get("Name") == "Aggregated"), {})
    flow = next((r for r in rows if r.get("Name") == FLOW), {})
    try:
        requests = int(total.get("Request Count") or 0)
    except ValueError:
        requests = 0
    try:
        p95 = float(flow["95%"]) if flow.get("95%") not in (None, "", "N/A") else None
    except ValueError:
        p95 = None
    return requests, p95


def _last_error(log: Path) -> str:
    """The line of a Locust log that says what went wrong (its last error), else its last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace")
                 .splitlines() if ln.strip()]
    except OSError:
        return "no log written"
    errors = [ln for ln in lines if "Error" in ln or "error" in ln or "failed" in ln.lower()]
    return (errors or lines or ["the log is empty"])[-1][:300]


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    return f"{value}{unit}"


def print_summary(summary: dict[str, Any], run_dir: Path, code: int) -> None:
    flow, booked = summary["flow"], summary["booked_flow"]
    factor = summary["time_factor"]
    out = [f"calharness load: {summary['verdict'].upper()} (exit {code}) - profile "
           f"{summary['profile']}, time factor {factor:g}, {summary['users']} simultaneous calls, "
           f"{summary['workers']} worker process(es)",
           f"  database: {summary.get('database')}; defenses off: "
           f"{', '.join(summary.get('defenses_off') or []) or 'none'}",
           f"  booked calls: {booked['count']}, p50 {_fmt(booked['p50_s'], ' s')}, p95 "
           f"{_fmt(booked['p95_s'], ' s')} (target {booked['target_s']} s); real time "
           f"x{factor:g}: p50 {_fmt(booked['unscaled_p50_s'], ' s')}, p95 "
           f"{_fmt(booked['unscaled_p95_s'], ' s')}",
           f"  every call (booked, refused, given up): {flow['count']}, p50 "
           f"{_fmt(flow['p50_s'], ' s')}, p95 {_fmt(flow['p95_s'], ' s')}",
           f"  requests: {summary['requests']} ({summary['rps']}/s), failure ratio "
           f"{summary['fail_ratio']:.2%}; 429s seen: {_fmt(summary['status_429_seen'])}",
           f"  outcomes: {summary['outcomes']}; bookings/min {summary['bookings_per_min']} "
           f"(real time {summary['unscaled_bookings_per_min']})"]
    for t in summary["thresholds"]:
        shown = t.get("value_s", t.get("value"))
        limit = t.get("limit_s", t.get("limit"))
        out.append(f"  threshold {t['name']}: {'ok' if t['ok'] else 'MISSED'} "
                   f"({_fmt(shown)} vs {limit})")
    bad = [v for v in summary["invariants"] if not v["ok"]]
    ok = [v for v in summary["invariants"] if v["ok"]]
    out.append(f"  invariants: {len(ok)} ok" + ("" if not bad else f", {len(bad)} VIOLATED"))
    for v in bad:
        out.append(f"    {v['name']}: {v['violations']} violation(s) {v['kinds']}")
        out += [f"      {m}" for m in v["examples"][:3]]
    out += [f"  not judged: {p}" for p in summary["not_judged"]]
    stack_log = ", stack.log" if (run_dir / "stack.log").is_file() else ""
    out.append(f"  reports: {run_dir}/ (summary.json, locust.html, locust_stats.csv, "
               f"history.jsonl, verdicts.json{stack_log})")
    print("\n".join(out))


# -- capacity search ------------------------------------------------------------------------------


def _steps(text: str | None) -> list[int]:
    if not text:
        return list(DEFAULT_CAPACITY_STEPS)
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError("--capacity-steps: comma-separated whole numbers, e.g. 5,10,20") \
            from None
    if not steps or any(s < 1 for s in steps) or steps != sorted(set(steps)):
        raise UsageError("--capacity-steps: ascending, distinct numbers >= 1")
    return steps


def capacity_of(curve: list[dict[str, Any]]) -> int | None:
    """The largest user count of the steps, taken in order from the smallest, that all met the
    target (a later step that meets it again after a miss does not count: noise, not capacity)."""
    capacity = None
    for point in curve:
        if not point["meets_target"]:
            break
        capacity = point["users"]
    return capacity


def find_capacity(profile: LoadProfile, prepared: Prepared, args: argparse.Namespace,
                  defenses_off: tuple[str, ...], base_dir: Path, steps: list[int]) -> int:
    curve: list[dict[str, Any]] = []
    violated = False
    for users in steps:
        step_profile = profile.with_changes(users=users, spawn_rate=profile.spawn_rate)
        prepared.reset(step_profile)
        code, summary = run_once(step_profile, prepared, base_dir / f"users-{users:03d}", args,
                                 defenses_off)
        flow = summary.get("flow", {})
        p95 = flow.get("p95_s")
        meets = p95 is not None and p95 <= profile.flow_target_s
        bad_invariants = [v["name"] for v in summary.get("invariants", []) if not v["ok"]]
        violated |= bool(bad_invariants) or code == EXIT_UNJUDGED
        point = {"users": users, "p50_s": flow.get("p50_s"), "p95_s": p95,
                 "unscaled_p50_s": flow.get("unscaled_p50_s"),
                 "unscaled_p95_s": flow.get("unscaled_p95_s"), "flows": flow.get("count"),
                 "bookings_per_min": summary.get("bookings_per_min"),
                 "unscaled_bookings_per_min": summary.get("unscaled_bookings_per_min"),
                 "status_429_seen": summary.get("status_429_seen"),
                 "fail_ratio": summary.get("fail_ratio"), "meets_target": meets,
                 "invariants_violated": bad_invariants, "exit_code": code}
        curve.append(point)
        print(f"  {users:>4} calls: p50 {_fmt(point['p50_s'], ' s')} p95 "
              f"{_fmt(p95, ' s')} (target {profile.flow_target_s:g} s) "
              f"bookings/min {point['bookings_per_min']} 429s {point['status_429_seen']} "
              f"{'ok' if meets else 'MISSED'}"
              + (f" INVARIANTS {bad_invariants}" if bad_invariants else ""), flush=True)
        if not meets and not args.keep_going:
            break
    capacity = capacity_of(curve)
    result = {"profile": profile.name, "time_factor": profile.time_factor,
              "target_p95_s": profile.thresholds.p95_flow_s,
              "scaled_target_p95_s": profile.flow_target_s, "capacity": capacity,
              "curve": curve, "database": prepared.database, "defenses_off": list(defenses_off)}
    base_dir.mkdir(parents=True, exist_ok=True)
    (base_dir / "capacity.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"calharness load: capacity at p95 booking_flow <= {profile.thresholds.p95_flow_s:g} s "
          f"(real time; time factor {profile.time_factor:g}): "
          + (f"{capacity} simultaneous calls" if capacity else "none of the steps met it")
          + f"\n  curve: {base_dir / 'capacity.json'}")
    if violated:
        return EXIT_INVARIANT
    return 0 if capacity else EXIT_THRESHOLD


# -- entry point ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    try:
        if args.worker:
            return _run_worker_only(args)
        profile = build_profile(args)
        defenses_off = parse_defenses_off(args.defense_off)
        if args.workers < 0 or args.remote_workers < 0:
            raise UsageError("--workers and --remote-workers must not be negative")
        if args.master_port is not None:
            _port_free(args.master_bind_host, args.master_port)
        if args.target is not None and defenses_off:
            raise UsageError("--defense-off needs a stack of ours (not --target)")
        steps = _steps(args.capacity_steps) if args.find_capacity else []
        baseline = _baseline(args)
        run_dir = run_dir_for(args.out, profile, "-capacity" if args.find_capacity else "")
        with prepared_target(args, profile, defenses_off, run_dir / "stack.log") as prepared:
            if args.find_capacity:
                code = find_capacity(profile, prepared, args, defenses_off, run_dir, steps)
                result_file = run_dir / "capacity.json"
                summary = (json.loads(result_file.read_text(encoding="utf-8"))
                           if result_file.is_file() else {})
            else:
                code, summary = run_once(profile, prepared, run_dir, args, defenses_off)
                if summary:
                    print_summary(summary, run_dir.resolve(), code)
        if baseline is not None and summary:
            code = check_baseline(summary, baseline, args, run_dir, code)
        return code
    except UsageError as exc:
        print(f"calharness load: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _baseline(args: argparse.Namespace) -> tuple[Path, dict[str, Any], float] | None:
    """The baseline run and the threshold, read before anything starts."""
    from calharness.load_support.baseline import BaselineError, read_baseline, threshold_of

    if args.baseline is None:
        return None
    try:
        threshold = threshold_of(args.regression_threshold)
        data = read_baseline(args.baseline)
    except BaselineError as exc:
        raise UsageError(f"--baseline: {exc}") from None
    if args.find_capacity != ("curve" in data):
        raise UsageError("--baseline: compare a capacity search with a capacity.json, and a "
                         "single run with a summary.json or load-summary.json")
    return args.baseline, data, threshold


def check_baseline(summary: dict[str, Any], baseline: tuple[Path, dict[str, Any], float],
                   args: argparse.Namespace, run_dir: Path, code: int) -> int:
    """Compare, print, keep the comparison in the run directory; a regression in a run that
    otherwise passed makes it exit 1 (a threshold missed)."""
    from calharness.load_support.baseline import compare, report_lines

    source, data, threshold = baseline
    rows, notes = compare(summary, data, threshold)
    print("\n".join(report_lines(rows, notes, threshold, source)))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "baseline-comparison.json").write_text(json.dumps(
        {"baseline": str(source), "threshold": threshold, "notes": notes,
         "figures": [r.to_json() for r in rows],
         "regressed": [r.name for r in rows if r.regressed]}, indent=2), encoding="utf-8")
    if any(r.regressed for r in rows) and code == 0:
        return EXIT_THRESHOLD
    return code


def _port_free(host: str, port: int) -> None:
    """Refuse a master port that is not a port, or is taken, before anything starts."""
    import socket

    if not 1 <= port <= 65535:
        raise UsageError(f"--master-port: {port} is not a TCP port (1-65535)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(f"--master-port: {host}:{port} is taken ({exc.strerror}); choose "
                             "a free port or leave it out") from None


def _run_worker_only(args: argparse.Namespace) -> int:
    from calharness.load_support.processes import run_workers

    if not args.master_host or not args.master_port:
        raise UsageError("--worker needs --master-host and --master-port (the master's "
                         "--master-bind-host/--master-port)")
    if args.processes < 1:
        raise UsageError("--processes must be >= 1")
    print(f"calharness load: {args.processes} worker process(es) -> master "
          f"{args.master_host}:{args.master_port}", flush=True)
    return run_workers(args.master_host, args.master_port, args.processes,
                       timeout_s=args.timeout)


def load_summary(summary: dict[str, Any]) -> LoadSummary:
    """A load run's summary (loadtests/judge.py) as the report's `LoadSummary` (its flow
    percentiles are the booked calls': what the 45-second target is about)."""
    flow = summary["booked_flow"]
    notes = [f"profile {summary['profile']}, time factor {summary['time_factor']:g} "
             f"(flow times x{summary['time_factor']:g} = real time)",
             f"{summary['users']} simultaneous calls, {summary['workers']} worker process(es)",
             f"booked calls ({flow['count']}): p50 {flow['p50_s']} s, p95 {flow['p95_s']} s "
             f"(target {flow['target_s']} s); every call: p95 {summary['flow']['p95_s']} s",
             f"bookings/min {summary['bookings_per_min']} "
             f"(real-time equivalent {summary['unscaled_bookings_per_min']})",
             f"outcomes {summary['outcomes']}", f"429s seen {summary['status_429_seen']}",
             f"verdict: {summary['verdict']}"]
    notes += [f"invariant {v['name']}: {v['violations']} violation(s)"
              for v in summary["invariants"] if not v["ok"]]
    notes += [f"not judged: {p}" for p in summary["not_judged"]]
    return LoadSummary(users=summary["users"], duration_s=summary["duration_s"],
                       requests=summary["requests"], failures=summary["failures"],
                       rps=summary["rps"],
                       p50_ms=None if flow["p50_s"] is None else flow["p50_s"] * 1000,
                       p95_ms=None if flow["p95_s"] is None else flow["p95_s"] * 1000,
                       p99_ms=None if summary["flow"]["p99_s"] is None
                       else summary["flow"]["p99_s"] * 1000,
                       passed=summary["passed"], notes=notes, endpoints=summary["endpoints"])
