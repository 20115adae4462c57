"""The verdict of a load run, decided on the Locust master (or the single local runner).

After the users stopped and every worker's history has arrived, the master:

1. merges the per-worker history files (``history-<worker>.jsonl``) into ``history.jsonl``;
2. takes the service's view (its appointments, audit log and processed webhooks — from the
   service's test control when it has one, or from the service's tenant read API for an
   external target) and *then* Cal.com's ground truth (after flushing webhook deliveries). In
   that order, a request still in flight when the users were killed can only add state the
   checkers excuse (its operation is ``info``), never make them report a false violation;
3. runs every invariant checker (double, stolen, lost booking …);
4. checks the thresholds — p95 ``booking_flow`` within the target (scaled by the time factor),
   the failure ratio — and writes ``summary.json``.

The exit code carries the verdict: 0 passed, 1 a threshold missed, 3 an invariant violated,
4 the run could not be judged (a worker's history missing, the target unreachable). Locust
itself uses 2 for a crashed greenlet.

No Locust import here: the numbers come in as plain data, so this is testable on its own.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness.checks import GroundTruth, ServiceView, run_all
from harness.history import History, HistoryError, merge_history_files
from loadtests.caller import BOOKED, ERROR, GAVE_UP, OutcomeCounter
from loadtests.profile import LoadProfile

T = TypeVar("T")

EXIT_OK, EXIT_THRESHOLD, EXIT_INVARIANT, EXIT_UNJUDGED = 0, 1, 3, 4
FLOW = "booking_flow"
SUMMARY_SCHEMA = "calharness.load-summary/1"


@dataclass(frozen=True)
class Target:
    """Where the run went: the service (Locust's host), and what the judge may read."""

    service_url: str
    fake_url: str | None = None  # the fake Cal.com's control plane (ground truth, stats)
    control_url: str | None = None  # the service's test control (docs/contracts.md §4)
    control_token: str | None = None
    company_keys: tuple[str, ...] = ()  # tenant API keys for the read API (external targets)

    def to_json(self) -> dict[str, Any]:
        return {"service_url": self.service_url, "fake_url": self.fake_url,
                "control_url": self.control_url, "control_token": self.control_token,
                "company_keys": list(self.company_keys)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(service_url=str(data["service_url"]), fake_url=data.get("fake_url"),
                   control_url=data.get("control_url"), control_token=data.get("control_token"),
                   company_keys=tuple(data.get("company_keys") or ()))


@dataclass(frozen=True)
class LoadConfig:
    """What the Locust processes are given (as JSON, on the master's command line; workers get it
    from the master with the spawn message, so a worker on another machine needs nothing but the
    master's address)."""

    profile: LoadProfile
    target: Target
    run_dir: str  # on the master's machine
    run_tag: str = "load"
    workers: int = 0
    database: str | None = None
    defenses_off: tuple[str, ...] = ()

    def dumps(self) -> str:
        return json.dumps({"profile": self.profile.to_json(), "target": self.target.to_json(),
                           "run_dir": self.run_dir, "run_tag": self.run_tag,
                           "workers": self.workers, "database": self.database,
                           "defenses_off": list(self.defenses_off)}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> LoadConfig:
        data = json.loads(text)
        return cls(profile=LoadProfile.from_json(data["profile"]),
                   target=Target.from_json(data["target"]), run_dir=str(data["run_dir"]),
                   run_tag=str(data.get("run_tag", "load")), workers=int(data.get("workers", 0)),
                   database=data.get("database"),
                   defenses_off=tuple(data.get("defenses_off") or ()))


# -- reading the target ---------------------------------------------------------------------------


def http_json(url: str, *, method: str = "GET", body: Any = None,
              headers: dict[str, str] | None = None, timeout_s: float = 60.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read() or b"null")


def service_view(target: Target) -> ServiceView:
    """The service's appointments (and, through its test control, audit log and webhooks)."""
    if target.control_url and target.control_token:
        doc = http_json(f"{target.control_url.rstrip('/')}/_test/state",
                        headers={"Authorization": f"Bearer {target.control_token}"})
        return ServiceView.from_json(doc["appointments"], audit_log=doc.get("audit_log"),
                                     processed_webhooks=doc.get("processed_webhooks"))
    if not target.company_keys:
        raise RuntimeError("no way to read the service's appointments: give company API keys "
                           "(target file) or run against a stack calharness load starts")
    seen: dict[Any, dict[str, Any]] = {}
    base = target.service_url.rstrip("/")
    for key in target.company_keys:
        offset = 0
        while True:
            page = http_json(f"{base}/api/appointments?limit=1000&offset={offset}",
                             headers={"Authorization": f"Bearer {key}"})
            rows = page.get("appointments", []) if isinstance(page, dict) else []
            for row in rows:
                seen[row["id"]] = row
            if len(rows) < 1000:
                break
            offset += 1000
    return ServiceView.from_json(seen.values())


def ground_truth(target: Target) -> GroundTruth | None:
    """Cal.com's state after every queued webhook was delivered (None without a fake)."""
    if not target.fake_url:
        return None
    base = target.fake_url.rstrip("/")
    http_json(f"{base}/_fake/webhooks/flush", method="POST", body={"timeout_s": 20})
    return GroundTruth.from_json(http_json(f"{base}/_fake/state"))


def upstream_stats(target: Target) -> dict[str, Any] | None:
    """The fake's counters: requests by status (429s included), bookings created, faults fired."""
    if not target.fake_url:
        return None
    try:
        stats = http_json(f"{target.fake_url.rstrip('/')}/_fake/stats", timeout_s=10)
    except (OSError, ValueError):
        return None
    requests = stats.get("requests", {}) if isinstance(stats, dict) else {}
    return {"requests": sum(requests.values()),
            "status_429": sum(n for k, n in requests.items() if k.endswith(" 429")),
            "rate_limited": stats.get("rate_limited"),
            "bookings_created": stats.get("bookings_created"),
            "faults_fired": stats.get("faults", {})}


# -- judging ----------------------------------------------------------------------------------------


@dataclass
class Judgement:
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why the run could not be judged
    history_events: int = 0

    @property
    def judged(self) -> bool:
        return not self.problems

    @property
    def violated(self) -> list[dict[str, Any]]:
        return [v for v in self.verdicts if not v["ok"]]


def patiently(read: Callable[[], T], settle_s: float) -> T:
    """``read()``, retried with growing pauses on transport errors and 5xx until ``settle_s``
    has passed (then the last error propagates)."""
    deadline = time.monotonic() + settle_s
    pause = 0.5
    while True:
        try:
            return read()
        except OSError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def judge_invariants(run_dir: Path, target: Target, expected_workers: Iterable[str] = (),
                     settle_s: float = 60.0) -> Judgement:
    """Merge the histories, read the service and Cal.com, run every checker."""
    judgement = Judgement()
    histories = run_dir / "histories"
    files = sorted(histories.glob("history-*.jsonl")) if histories.is_dir() else []
    present = {f.stem.removeprefix("history-") for f in files}
    missing = sorted(set(expected_workers) - present)
    if missing:
        judgement.problems.append(f"no history from worker(s) {', '.join(missing)}")
    try:
        history = merge_history_files(files, out=run_dir / "history.jsonl") if files \
            else History()
        judgement.history_events = len(history)
        history.operations  # noqa: B018 (pair now: a broken history is a judging problem)
    except HistoryError as exc:
        judgement.problems.append(f"history unreadable: {exc}")
        return judgement
    try:
        # First the service, then Cal.com (see the module doc). Requests abandoned by the killed
        # users may still hold the service's database connections for a while: retry, bounded.
        view = patiently(lambda: service_view(target), settle_s)
        truth = patiently(lambda: ground_truth(target), settle_s)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        judgement.problems.append(f"could not read the target's state: {exc}")
        return judgement
    verdicts = run_all(history, view, truth)
    for verdict in verdicts:
        data = verdict.to_json()
        judgement.verdicts.append({
            "name": data["name"], "ok": data["ok"], "checked": data["checked"],
            "skipped": data["skipped"], "violations": len(data["violations"]),
            "kinds": sorted({v["kind"] for v in data["violations"]}),
            "examples": [v.get("message") for v in data["violations"][:5]],
        })
    with (run_dir / "verdicts.json").open("w", encoding="utf-8") as fh:
        json.dump([v.to_json() for v in verdicts], fh, indent=1, default=str)
    return judgement


# -- thresholds and the summary ------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * len(ordered)) // 100))
    return round(ordered[rank - 1], 3)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000.0, 3)


def evaluate(profile: LoadProfile, stats: dict[str, Any], counter: OutcomeCounter,
             judgement: Judgement, upstream: dict[str, Any] | None, *, users: int,
             workers: int, elapsed_s: float, database: str | None = None,
             defenses_off: Iterable[str] = ()) -> dict[str, Any]:
    """Thresholds + invariants → the run's summary (with its exit code).

    ``stats`` is Locust's numbers as plain data: ``{"entries": [{"name", "method",
    "num_requests", "num_failures", "p50_ms", "p95_ms", "p99_ms", "avg_ms", "rps"}],
    "total": {…same…}}``.
    """
    entries = stats.get("entries", [])
    flow = next((e for e in entries if e["name"] == FLOW), None)
    total = stats.get("total", {})
    factor = profile.time_factor
    target_s = profile.flow_target_s
    all_p95_s = _seconds(flow["p95_ms"]) if flow and flow["num_requests"] else None
    # The target is judged on the calls that booked: refusals end in milliseconds.
    booked_p50_s, p95_s = (_percentile(counter.booked_s, 50), _percentile(counter.booked_s, 95))
    fail_ratio = (total.get("num_failures", 0) / total["num_requests"]
                  if total.get("num_requests") else 0.0)
    thresholds = [
        {"name": "p95 booking_flow", "limit_s": round(target_s, 3), "value_s": p95_s,
         "unscaled_limit_s": profile.thresholds.p95_flow_s,
         "ok": p95_s is not None and p95_s <= target_s,
         "note": "of the calls that booked" if p95_s is not None else "no call booked"},
        {"name": "failure ratio", "limit": profile.thresholds.max_fail_ratio,
         "value": round(fail_ratio, 4), "ok": fail_ratio <= profile.thresholds.max_fail_ratio},
    ]
    booked = counter.outcomes.get(BOOKED, 0)
    minutes = elapsed_s / 60 if elapsed_s > 0 else None
    if not judgement.judged:
        exit_code, verdict = EXIT_UNJUDGED, "not judged"
    elif judgement.violated:
        exit_code, verdict = EXIT_INVARIANT, "invariant violated"
    elif not all(t["ok"] for t in thresholds):
        exit_code, verdict = EXIT_THRESHOLD, "threshold missed"
    else:
        exit_code, verdict = EXIT_OK, "passed"

    def flow_s(key: str) -> float | None:
        return _seconds(flow[key]) if flow and flow["num_requests"] else None

    return {
        "schema": SUMMARY_SCHEMA, "verdict": verdict, "passed": exit_code == EXIT_OK,
        "exit_code": exit_code, "profile": profile.name, "time_factor": factor,
        "users": users, "workers": workers, "duration_s": round(elapsed_s, 2),
        "database": database, "defenses_off": list(defenses_off),
        "requests": total.get("num_requests", 0), "failures": total.get("num_failures", 0),
        "fail_ratio": round(fail_ratio, 4), "rps": round(total.get("rps", 0.0), 2),
        "flow": {"count": flow["num_requests"] if flow else 0,
                 "failures": flow["num_failures"] if flow else 0,
                 "p50_s": flow_s("p50_ms"), "p95_s": all_p95_s, "p99_s": flow_s("p99_ms"),
                 "unscaled_p50_s": _times(flow_s("p50_ms"), factor),
                 "unscaled_p95_s": _times(all_p95_s, factor), "target_s": round(target_s, 3)},
        "booked_flow": {"count": len(counter.booked_s), "p50_s": booked_p50_s, "p95_s": p95_s,
                        "unscaled_p50_s": _times(booked_p50_s, factor),
                        "unscaled_p95_s": _times(p95_s, factor),
                        "target_s": round(target_s, 3)},
        "bookings": booked,
        "bookings_per_min": round(booked / minutes, 2) if minutes else None,
        "unscaled_bookings_per_min": round(booked / minutes / factor, 2) if minutes else None,
        "outcomes": {k: counter.outcomes.get(k, 0) for k in (BOOKED, GAVE_UP, ERROR)},
        "reasons": dict(sorted(counter.reasons.items())),
        "caller_statuses": dict(sorted(counter.statuses.items())),
        "upstream": upstream,
        "status_429_seen": upstream.get("status_429") if upstream else None,
        "thresholds": thresholds,
        "invariants": judgement.verdicts,
        "not_judged": judgement.problems,
        "history_events": judgement.history_events,
        "endpoints": entries,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else round(value * factor, 2)
