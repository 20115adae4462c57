"""`calharness load --baseline FILE`: compare a run with an earlier one and name what regressed.

A figure regressed when it got worse by more than the threshold (default 10 %) relative to the
baseline: the booking flow's p50/p95/p99 and each endpoint's p95 going up, requests per second
and bookings per minute going down, the capacity of a `--find-capacity` run going down. The
failure ratio is compared in percentage points (it is often 0, where a relative change means
nothing): more than one point up is a regression. A figure missing on either side is not
compared (and the comparison says so).

The baseline may be a run's ``summary.json``, its ``load-summary.json`` or a ``capacity.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RUN_SCHEMA = "calharness.load-summary/1"
DEFAULT_THRESHOLD = 0.10
#: Failure ratio: a rise of more than this (a share of all requests) is a regression.
FAIL_RATIO_POINTS = 0.01


class BaselineError(ValueError):
    """The baseline file cannot be compared with (the message says why)."""


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    higher_is_worse: bool
    unit: str = ""


@dataclass(frozen=True)
class Comparison:
    name: str
    baseline: float
    current: float
    change: float          # relative (+0.12 = 12 % up), or points for the failure ratio
    regressed: bool
    unit: str = ""

    def describe(self) -> str:
        if self.name == "failure ratio":
            delta = f"{self.change * 100:+.1f} points"
            shown = f"{self.current:.2%} vs {self.baseline:.2%}"
        else:
            delta = f"{self.change:+.1%}"
            shown = f"{self.current:g}{self.unit} vs {self.baseline:g}{self.unit}"
        return f"{self.name}: {shown} ({delta})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def threshold_of(text: str) -> float:
    """``10%`` or ``0.1`` → 0.1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise BaselineError(f"{text!r} is not a percentage (10%) or a share (0.1)") from None
    if not 0 <= value < 10:
        raise BaselineError(f"{text!r}: a regression threshold between 0% and 1000%")
    return value


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not figures(data):
        raise BaselineError(f"{path} is not a load run's summary.json, load-summary.json or "
                            "capacity.json (no figure to compare)")
    return data


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def figures(data: dict[str, Any]) -> dict[str, Figure]:
    """The comparable figures of any of the three documents, by name."""
    found: dict[str, Figure] = {}

    def add(name: str, value: Any, higher_is_worse: bool, unit: str = "") -> None:
        number = _num(value)
        if number is not None:
            found[name] = Figure(name, number, higher_is_worse, unit)

    if "curve" in data:                                  # capacity.json
        add("capacity", data.get("capacity"), False, " calls")
        return found
    if data.get("schema") == RUN_SCHEMA:                 # the judge's summary.json
        flow = data.get("flow") or {}
        for p in ("p50", "p95", "p99"):
            add(f"booking_flow {p}", flow.get(f"{p}_s"), True, " s")
        add("requests per second", data.get("rps"), False)
        add("bookings per minute", data.get("bookings_per_min"), False)
        add("failure ratio", data.get("fail_ratio"), True)
    elif "p95_ms" in data and "requests" in data:        # load-summary.json
        for p in ("p50", "p95", "p99"):
            ms = _num(data.get(f"{p}_ms"))
            add(f"booking_flow {p}", None if ms is None else ms / 1000, True, " s")
        add("requests per second", data.get("rps"), False)
        requests = _num(data.get("requests"))
        if requests:
            add("failure ratio", (_num(data.get("failures")) or 0.0) / requests, True)
    for entry in data.get("endpoints") or []:
        if entry.get("name") in ("booking_flow", "Aggregated"):
            continue
        add(f"{entry.get('method', '')} {entry.get('name')} p95".strip(), entry.get("p95_ms"),
            True, " ms")
    return found


def compare(current: dict[str, Any], baseline: dict[str, Any],
            threshold: float = DEFAULT_THRESHOLD) -> tuple[list[Comparison], list[str]]:
    """Every figure both runs have, compared; and the notes (figures one side lacks, runs of a
    different shape)."""
    now, before = figures(current), figures(baseline)
    notes = [f"{name}: only in the baseline, not compared" for name in before if name not in now]
    for key in ("profile", "users", "time_factor"):
        if key in current and key in baseline and current[key] != baseline[key]:
            notes.append(f"the baseline ran {key} {baseline[key]!r}, this run {current[key]!r}: "
                         "figures may differ for that reason alone")
    rows: list[Comparison] = []
    for name, figure in now.items():
        old = before.get(name)
        if old is None:
            continue
        if name == "failure ratio":
            change = figure.value - old.value
            regressed = change > FAIL_RATIO_POINTS
        elif old.value == 0:
            continue
        else:
            change = (figure.value - old.value) / old.value
            worse = change if figure.higher_is_worse else -change
            regressed = worse > threshold + 1e-12
        rows.append(Comparison(name, old.value, figure.value, change, regressed, figure.unit))
    return rows, notes


def report_lines(rows: list[Comparison], notes: list[str], threshold: float,
                 source: Path) -> list[str]:
    bad = [r for r in rows if r.regressed]
    head = (f"baseline {source}: {len(bad)} figure(s) regressed beyond {threshold:.0%}"
            if bad else f"baseline {source}: no figure regressed beyond {threshold:.0%} "
            f"({len(rows)} compared)")
    lines = [head]
    lines += [f"  REGRESSED {r.describe()}" for r in bad]
    lines += [f"  ok {r.describe()}" for r in rows if not r.regressed]
    lines += [f"  note: {n}" for n in notes]
    return lines
