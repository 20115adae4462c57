"""What `calharness verify` hands its report besides the scenario results, read into the report's
plain data: a load run's summary and capacity curve, the previous run's summary, the faults each
scenario injected, the scenarios the run did not select.

Files named on the command line are read (and refused with a usage error) before the run starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from calharness.commands.options import UsageError
from calharness.commands.pytest_run import property_by_test
from fake_calcom.backend.faults import HTTP_ACTIONS, WEBHOOK_ACTIONS
from reports import (
    CapacityCurve,
    CapacityPoint,
    FaultCoverage,
    FaultInjection,
    LoadSummary,
    PreviousRun,
    ScenarioResult,
)

#: The load judge's summary (loadtests/judge.py), beside every load-summary.json.
LOAD_RUN_SCHEMA = "calharness.load-summary/1"
#: The Cal.com endpoints the booking service calls: rows of the fault matrix even when no
#: scenario injected anything there (the fake's routes, ids as `*`).
SERVICE_ENDPOINTS = ("POST /v2/bookings", "GET /v2/bookings", "GET /v2/bookings/*",
                     "POST /v2/bookings/*/cancel", "POST /v2/bookings/*/reschedule",
                     "GET /v2/slots")
#: The fake's fault kinds in the order the matrix shows them: before, instead of, after the
#: backend (docs/contracts.md §1.5).
HTTP_KIND_ORDER = ("latency", "slot_steal", "barrier", "overbook", "stale_replay", "status",
                   "hang", "reset", "truncate", "malformed", "empty", "rewrite")


def _json(path: Path, option: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{option}: {path} is not JSON: {exc}") from None


def read_load_summary(path: Path) -> LoadSummary:
    """`calharness load`'s ``load-summary.json`` (or the run's ``summary.json`` beside it); the
    booking flow's target and time factor come from the run's summary."""
    from calharness.commands.load import load_summary

    data = _json(path, "--load-summary")
    run: dict[str, Any] | None = None
    if isinstance(data, dict) and data.get("schema") == LOAD_RUN_SCHEMA:
        run = data
        summary = load_summary(data)
    else:
        try:
            summary = LoadSummary.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"--load-summary: {path} is not a load summary (calharness load's "
                             f"load-summary.json): missing {exc}") from None
        beside = path.with_name("summary.json")
        if beside.is_file():
            found = _json(beside, "--load-summary")
            run = found if isinstance(found, dict) and found.get("schema") == LOAD_RUN_SCHEMA \
                else None
    if run is not None:
        factor = float(run.get("time_factor") or 1.0)
        summary.profile = run.get("profile")
        summary.time_factor = factor
        target = (run.get("flow") or {}).get("target_s")
        summary.target_s = None if target is None else round(float(target) * factor, 3)
    return summary


def read_capacity(path: Path) -> CapacityCurve:
    """`calharness load --find-capacity`'s ``capacity.json``, in real-time seconds."""
    data = _json(path, "--capacity-curve")
    try:
        factor = float(data.get("time_factor") or 1.0)
        points = []
        for p in data["curve"]:
            p50 = p.get("unscaled_p50_s", None if p.get("p50_s") is None else p["p50_s"] * factor)
            p95 = p.get("unscaled_p95_s", None if p.get("p95_s") is None else p["p95_s"] * factor)
            points.append(CapacityPoint(users=int(p["users"]), p50_s=p50, p95_s=p95,
                                        meets_target=bool(p.get("meets_target")),
                                        bookings_per_min=p.get("unscaled_bookings_per_min",
                                                               p.get("bookings_per_min")),
                                        violated=list(p.get("invariants_violated") or [])))
        return CapacityCurve(target_s=float(data["target_p95_s"]), capacity=data.get("capacity"),
                             points=points, time_factor=factor, profile=data.get("profile"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"--capacity-curve: {path} is not calharness load --find-capacity's "
                         f"capacity.json ({exc!r})") from None


def read_previous(path: Path) -> PreviousRun:
    data = _json(path, "--previous")
    try:
        return PreviousRun.from_summary(str(path), data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"--previous: {exc}") from None


def fault_coverage(junit: Path, scenario_ids: Iterable[str]) -> FaultCoverage | None:
    """The faults each scenario recorded (the ``faults`` JUnit property of
    ``calharness.pytest_record``), with the kinds the fake supports; None if none recorded."""
    recorded = property_by_test(junit, "faults")
    if not recorded:
        return None
    known = set(scenario_ids)
    rows = [FaultInjection(scenario=nodeid, name=str(f["name"]), kind=str(f["kind"]),
                           endpoint=str(f["endpoint"]), trigger=str(f.get("trigger", "always")),
                           detail=str(f.get("detail") or ""), matched=f.get("matched"),
                           fired=f.get("fired"))
            for nodeid, faults in recorded.items() if not known or nodeid in known
            for f in faults]
    http = [k for k in HTTP_KIND_ORDER if k in HTTP_ACTIONS] + sorted(
        set(HTTP_ACTIONS) - set(HTTP_KIND_ORDER))
    return FaultCoverage(injections=rows, http_kinds=http, webhook_kinds=sorted(WEBHOOK_ACTIONS),
                         endpoints=list(SERVICE_ENDPOINTS), recorded=len(recorded))


def read_deselected(path: Path, selected: Iterable[str]) -> list[ScenarioResult]:
    """Scenarios the run deselected (each test process writes the same ones: kept once)."""
    if not path.is_file():
        return []
    chosen = set(selected)
    rows: dict[str, ScenarioResult] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        nodeid = item["nodeid"]
        if nodeid in chosen or nodeid in rows:
            continue
        rows[nodeid] = ScenarioResult(nodeid=nodeid, outcome="not selected",
                                      area=item.get("area") or "other",
                                      incidents=list(dict.fromkeys(item.get("rca", []))),
                                      defenses=list(dict.fromkeys(item.get("defense", []))))
    return list(rows.values())
