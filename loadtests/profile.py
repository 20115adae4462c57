"""Load profiles: how callers behave, how the fake Cal.com behaves, and what the run must meet.

A profile is plain data (JSON round-trip), so the `calharness load` process, the Locust master
and every Locust worker — possibly on another machine — work from the same description.

**Time compression.** ``time_factor`` F divides every duration of the run: callers' talk times,
Cal.com's latency, the rate-limit window and block (the *count* stays 120, so the limit keeps its
meaning: 120 requests per 60/F seconds), the service's timeouts and waits, and the p95 target.
A run at F=10 is the same flow ten times faster; its flow times times F are the real-time
equivalents, and every report states F.

Named profiles (``PROFILES``):

* ``realistic`` — one practice (one Cal.com API key, so one 120/min rate limit), Beratung and
  Haarschnitt, talk time lognormal around the incident's 14 s, Cal.com latency lognormal
  (median 400 ms, sigma 0.6: p95 ≈ 1.1 s), rate limiting on, no faults.
* ``smoke`` — the CI smoke run (≈20 s at F=10). Built to *exercise the slot defenses*: every
  caller wants one of three slots tomorrow (10:00, 11:00, 14:00), all calls start together and
  talk for the same 14 s (scaled), so collects for the same slot arrive at the same moment; and
  the fake's ``overbook`` fault is armed for 80 % of the creates; Cal.com's latency is ~1 s
  (median, tight), which keeps a racing collect's double-check and create in flight long enough
  to overlap with another's. Why overbook: the real Cal.com
  refuses a second booking on a busy host (400), which would hide a missing defense — the
  service's ``slot_lock`` and ``availability_double_check`` exist because Cal.com has accepted
  overlapping bookings (contract §2.8 proves both with ``overbook``). With every defense on the
  service never sends a create for a taken slot, so ``overbook`` changes nothing and the run
  passes; with ``slot_lock`` off, simultaneous collects all pass the double-check and race to
  Cal.com; with ``availability_double_check`` off, callers who checked earlier create on a slot
  that is gone — either way Cal.com ends up with two bookings on one host slot and the run fails.
* ``throughput`` — no talk time, no latency, no rate limit: how many requests/s the stack and
  Locust sustain on this machine (a benchmark, not a realistic run).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from loadtests.demand import Demand, ServiceDemand
from loadtests.distributions import Distribution

#: Optional upstream fault mixes: name → what the fake does to a matching request.
FAULT_MIX_KINDS: dict[str, str] = {
    "429": "answer 429 (a throttling storm; Reset = the rate-limit block)",
    "5xx": "answer 503 (a Cal.com outage burst)",
    "timeout": "create the booking, then never answer (an ambiguous create the service must "
               "resolve)",
    "overbook": "accept a create although the host is busy (what the slot defenses guard against)",
}

SCHEMA = "calharness.load-profile/1"


def _finite(value: float, name: str, *, minimum: float = 0.0) -> float:
    value = float(value)
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return value


@dataclass(frozen=True)
class Upstream:
    """How the fake Cal.com behaves during the run (unscaled numbers)."""

    latency_median_ms: float | None = 400.0  # None or 0: no added latency
    latency_sigma: float = 0.6
    rate_limit: bool = True
    rate_limit_per_minute: int = 120
    rate_limit_block_s: float = 60.0
    fault_mix: dict[str, float] = field(default_factory=dict)  # kind → probability

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fault_mix) - set(FAULT_MIX_KINDS))
        if unknown:
            raise ValueError(f"unknown fault mix {unknown}; known: {sorted(FAULT_MIX_KINDS)}")
        for kind, p in self.fault_mix.items():
            if not 0 <= float(p) <= 1:
                raise ValueError(f"fault mix {kind}: probability must be in [0, 1], got {p!r}")
        if self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be >= 1")
        _finite(self.latency_sigma, "latency_sigma")
        _finite(self.rate_limit_block_s, "rate_limit_block_s")

    def to_json(self) -> dict[str, Any]:
        return {"latency_median_ms": self.latency_median_ms, "latency_sigma": self.latency_sigma,
                "rate_limit": self.rate_limit,
                "rate_limit_per_minute": self.rate_limit_per_minute,
                "rate_limit_block_s": self.rate_limit_block_s,
                "fault_mix": dict(sorted(self.fault_mix.items()))}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Upstream:
        base = cls()
        return cls(latency_median_ms=data.get("latency_median_ms", base.latency_median_ms),
                   latency_sigma=float(data.get("latency_sigma", base.latency_sigma)),
                   rate_limit=bool(data.get("rate_limit", base.rate_limit)),
                   rate_limit_per_minute=int(data.get("rate_limit_per_minute",
                                                      base.rate_limit_per_minute)),
                   rate_limit_block_s=float(data.get("rate_limit_block_s",
                                                     base.rate_limit_block_s)),
                   fault_mix={str(k): float(v) for k, v in (data.get("fault_mix") or {}).items()})


@dataclass(frozen=True)
class Thresholds:
    """What a run must meet (unscaled: the p95 target is divided by the time factor)."""

    p95_flow_s: float = 45.0
    max_fail_ratio: float = 0.05

    def to_json(self) -> dict[str, Any]:
        return {"p95_flow_s": self.p95_flow_s, "max_fail_ratio": self.max_fail_ratio}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Thresholds:
        base = cls()
        return cls(p95_flow_s=float(data.get("p95_flow_s", base.p95_flow_s)),
                   max_fail_ratio=float(data.get("max_fail_ratio", base.max_fail_ratio)))


#: The incident's 14-second gap between the availability check and the booking, with spread.
INCIDENT_TALK = Distribution("lognormal", (14.0, 0.3))
PICK_ALTERNATIVE = Distribution("lognormal", (5.0, 0.3))
NO_PAUSE = Distribution("fixed", (0.0,))


@dataclass(frozen=True)
class LoadProfile:
    """Everything a load run needs to know except where the target is."""

    name: str = "realistic"
    description: str = ""
    time_factor: float = 1.0
    think: Distribution = INCIDENT_TALK  # check → collect: the talk
    retry_think: Distribution = PICK_ALTERNATIVE  # hearing the alternatives, choosing one
    between_calls: Distribution = NO_PAUSE  # a line is free again
    max_attempts: int = 3  # collects per call before the caller gives up
    demand: Demand = field(default_factory=Demand)
    upstream: Upstream = field(default_factory=Upstream)
    thresholds: Thresholds = field(default_factory=Thresholds)
    users: int = 10
    spawn_rate: float | None = None  # users started per second (None: all at once)
    duration_s: float = 60.0  # wall time of the run (already compressed)
    seed: int = 0
    request_timeout_s: float = 150.0  # unscaled; one request to the service at most this long

    def __post_init__(self) -> None:
        _finite(self.time_factor, "time_factor", minimum=1e-3)
        _finite(self.duration_s, "duration_s", minimum=0.1)
        _finite(self.request_timeout_s, "request_timeout_s", minimum=0.1)
        if self.users < 1:
            raise ValueError("users must be >= 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.spawn_rate is not None:
            _finite(self.spawn_rate, "spawn_rate", minimum=1e-3)

    # -- the run as scaled by the time factor -------------------------------------------------

    def scaled(self, seconds: float) -> float:
        return seconds / self.time_factor

    @property
    def caller_think(self) -> Distribution:
        return self.think.scaled(1 / self.time_factor)

    @property
    def caller_retry_think(self) -> Distribution:
        return self.retry_think.scaled(1 / self.time_factor)

    @property
    def caller_between_calls(self) -> Distribution:
        return self.between_calls.scaled(1 / self.time_factor)

    @property
    def flow_target_s(self) -> float:
        """The p95 target for ``booking_flow`` in this run's (compressed) seconds."""
        return self.scaled(self.thresholds.p95_flow_s)

    @property
    def request_timeout(self) -> float:
        return max(5.0, self.scaled(self.request_timeout_s))

    @property
    def effective_spawn_rate(self) -> float:
        return float(self.spawn_rate) if self.spawn_rate is not None else float(self.users)

    def fault_plan(self) -> dict[str, Any]:
        """The fake's fault plan (contract §1.5) for this profile, durations scaled."""
        up = self.upstream
        faults: list[dict[str, Any]] = []
        creates = {"method": "POST", "path": "/v2/bookings"}
        if up.fault_mix.get("overbook"):
            faults.append({"name": "load-overbook", "match": creates,
                           "trigger": _probability(up.fault_mix["overbook"]),
                           "action": {"kind": "overbook"}})
        if up.latency_median_ms:
            faults.append({"name": "calcom-latency", "match": {},
                           "action": {"kind": "latency", "distribution": "lognormal",
                                      "median_ms": self.scaled(float(up.latency_median_ms)),
                                      "sigma": up.latency_sigma}})
        if up.fault_mix.get("429"):
            faults.append({"name": "storm-429", "match": {},
                           "trigger": _probability(up.fault_mix["429"]),
                           "action": {"kind": "status", "status": 429}})
        if up.fault_mix.get("5xx"):
            faults.append({"name": "burst-5xx", "match": {},
                           "trigger": _probability(up.fault_mix["5xx"]),
                           "action": {"kind": "status", "status": 503}})
        if up.fault_mix.get("timeout"):
            timeout_ms = self.service_settings()["calcom_timeout_s"] * 1000
            faults.append({"name": "create-timeout", "match": creates,
                           "trigger": _probability(up.fault_mix["timeout"]),
                           "action": {"kind": "hang", "phase": "after",
                                      "max_ms": 2 * timeout_ms}})
        return {"seed": self.seed, "faults": faults}

    def rate_limit(self) -> dict[str, Any]:
        """The fake's rate-limit settings: the same count per a compressed window."""
        up = self.upstream
        return {"enabled": up.rate_limit, "limit": up.rate_limit_per_minute,
                "window_s": self.scaled(60.0), "block_s": self.scaled(up.rate_limit_block_s)}

    def service_settings(self) -> dict[str, Any]:
        """Booking-service settings whose durations follow the time factor (the service's
        defaults, divided by F)."""
        return {"calcom_timeout_s": self.scaled(10.0), "max_rate_limit_wait_s": self.scaled(65.0),
                "backoff_base_s": self.scaled(0.2), "backoff_cap_s": self.scaled(5.0),
                "circuit_open_s": self.scaled(30.0), "slot_lock_timeout_s": self.scaled(30.0),
                "caller_rate_limit_wait_s": self.scaled(5.0), "random_seed": self.seed}

    # -- JSON ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "name": self.name, "description": self.description,
                "time_factor": self.time_factor, "think": self.think.spec(),
                "retry_think": self.retry_think.spec(),
                "between_calls": self.between_calls.spec(), "max_attempts": self.max_attempts,
                "demand": self.demand.to_json(), "upstream": self.upstream.to_json(),
                "thresholds": self.thresholds.to_json(), "users": self.users,
                "spawn_rate": self.spawn_rate, "duration_s": self.duration_s, "seed": self.seed,
                "request_timeout_s": self.request_timeout_s}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadProfile:
        if not isinstance(data, dict):
            raise ValueError("a profile is a JSON object")
        if data.get("schema", SCHEMA) != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema {data.get('schema')!r})")
        known = {f.name for f in fields(cls)} | {"schema"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: "
                             + ", ".join(sorted(known)))
        base = cls()

        def number(key: str, default: Any, kind: type = float) -> Any:
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    kind is int and not float(value).is_integer()):
                raise ValueError(f"{key}: expected {'a whole number' if kind is int else 'a number'}"
                                 f", got {value!r}")
            return kind(value)

        return cls(
            name=str(data.get("name", base.name)),
            description=str(data.get("description", "")),
            time_factor=number("time_factor", base.time_factor),
            think=Distribution.parse(data.get("think", base.think.spec())),
            retry_think=Distribution.parse(data.get("retry_think", base.retry_think.spec())),
            between_calls=Distribution.parse(data.get("between_calls",
                                                      base.between_calls.spec())),
            max_attempts=number("max_attempts", base.max_attempts, int),
            demand=Demand.from_json(data.get("demand") or {}),
            upstream=Upstream.from_json(data.get("upstream") or {}),
            thresholds=Thresholds.from_json(data.get("thresholds") or {}),
            users=number("users", base.users, int),
            spawn_rate=None if data.get("spawn_rate") is None else number("spawn_rate", None),
            duration_s=number("duration_s", base.duration_s),
            seed=number("seed", base.seed, int),
            request_timeout_s=number("request_timeout_s", base.request_timeout_s),
        )

    @classmethod
    def loads(cls, text: str) -> LoadProfile:
        return cls.from_json(json.loads(text))

    def with_changes(self, **changes: Any) -> LoadProfile:
        return replace(self, **changes)


def _probability(p: float) -> dict[str, Any]:
    return {"kind": "always"} if p >= 1 else {"kind": "probability", "p": float(p)}


BERLIN_NUMBER = "+4930123456"  # Praxis Berlin's branch (contract §2.6)

#: A phone line is busy again a while after a call ends, booked or not: a refused caller does not
#: redial in the same millisecond (which only measures how fast refusals are).
LINE_FREE_AGAIN = Distribution("lognormal", (30.0, 0.5))

REALISTIC = LoadProfile(
    name="realistic",
    description="One practice (one Cal.com API key: 120 requests/min), Beratung 75 % and "
                "Haarschnitt 25 %, talk time lognormal around the incident's 14 s, Cal.com "
                "latency lognormal (median 400 ms, sigma 0.6), rate limiting on, no faults; "
                "a line takes its next call about 30 s after the last one ended.",
    between_calls=LINE_FREE_AGAIN,
    demand=Demand(services=(ServiceDemand("Beratung", 0.75, 30),
                            ServiceDemand("Haarschnitt", 0.25, 60)),
                  horizon_days=60, day_decay=0.96, to_number=BERLIN_NUMBER),
    users=10, duration_s=120.0,
)

SMOKE = LoadProfile(
    name="smoke",
    description="CI smoke: 10 callers, all wanting one of 3 slots tomorrow, all talking 14 s, "
                "Cal.com latency ~1 s, overbook armed on 80 % of creates, time factor 10: "
                "fails when slot_lock or availability_double_check is off.",
    time_factor=10.0,
    think=Distribution("fixed", (14.0,)),
    retry_think=Distribution("fixed", (3.0,)),
    between_calls=Distribution("fixed", (10.0,)),
    demand=Demand(services=(ServiceDemand("Beratung", 1.0, 30),), horizon_days=1,
                  hour_weights={10: 3.0, 11: 2.0, 14: 2.0}, off_hour_factor=0.0,
                  to_number=BERLIN_NUMBER),
    upstream=Upstream(latency_median_ms=1000.0, latency_sigma=0.3,
                      fault_mix={"overbook": 0.8}),
    users=10, duration_s=20.0,
)

THROUGHPUT = LoadProfile(
    name="throughput",
    description="Benchmark: no talk time, no Cal.com latency, no rate limit, a year of "
                "calendar - how many requests/s the stack and Locust sustain.",
    think=Distribution("fixed", (0.0,)),
    retry_think=Distribution("fixed", (0.0,)),
    demand=Demand(services=(ServiceDemand("Beratung", 1.0, 30),), horizon_days=250,
                  day_decay=0.99, to_number=BERLIN_NUMBER),
    upstream=Upstream(latency_median_ms=None, rate_limit=False),
    users=20, duration_s=30.0,
)

PROFILES: dict[str, LoadProfile] = {p.name: p for p in (REALISTIC, SMOKE, THROUGHPUT)}
