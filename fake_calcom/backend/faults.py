"""Fault plans: plain JSON directives (match × trigger × action) with counters (contracts §1.5).

This module only decides *which* faults fire for a request or a webhook delivery; the wire
layer (`wire/fault_actions.py`, `wire/delivery.py`) carries the actions out. Randomness comes
from one `random.Random` per fault, seeded from the plan seed and the fault's position, so the
same plan and the same request order give the same firings.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field
from typing import Any

from fake_calcom.backend.timefmt import normalise_for_match

PRE_ACTIONS = frozenset(
    {
        "latency",
        "slot_steal",
        "barrier",
        "overbook",
        # slot reservations and confirm/decline (applied by the handler, counted when they act)
        "reservation_expire_early",
        "reservation_taken",
        "cancel_race",
    }
)
PHASED_ACTIONS = frozenset({"status", "hang", "reset"})
POST_ACTIONS = frozenset({"truncate", "malformed", "empty", "rewrite"})
TERMINAL_ACTIONS = frozenset({"stale_replay"})
WEBHOOK_ACTIONS = frozenset(
    {"webhook_duplicate", "webhook_delay", "webhook_reorder", "webhook_drop", "webhook_bad_signature"}
)
HTTP_ACTIONS = PRE_ACTIONS | PHASED_ACTIONS | POST_ACTIONS | TERMINAL_ACTIONS

MATCH_KEYS = frozenset({"method", "path", "api_version", "body", "query", "webhook"})
_MISSING = object()


class FaultPlanError(ValueError):
    """A plan or fault that cannot be used; the message names the fault and the field."""


@dataclass(frozen=True, slots=True)
class RequestView:
    """What a fault may match on."""

    method: str
    path: str
    api_version: str | None
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)


def lookup(document: Any, dotted: str) -> Any:
    """`attendee.email`, `attendees.0.email` … in a JSON document; _MISSING when absent."""
    current = document
    for part in dotted.split("."):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def path_matches(pattern: str, path: str) -> bool:
    """Exact, or a glob where `*` stands for exactly one path segment."""
    if "*" not in pattern:
        return pattern == path
    wanted = pattern.strip("/").split("/")
    actual = path.strip("/").split("/")
    if len(wanted) != len(actual):
        return False
    return all(w == "*" or w == a for w, a in zip(wanted, actual, strict=True))


def _fields_match(expected: dict[str, Any], document: Any, *, payload_fallback: bool) -> bool:
    for dotted, want in expected.items():
        value = lookup(document, dotted)
        if value is _MISSING and payload_fallback and isinstance(document, dict):
            value = lookup(document.get("payload"), dotted)
        if value is _MISSING:
            return False
        if normalise_for_match(value) != normalise_for_match(want):
            return False
    return True


@dataclass(slots=True)
class Fault:
    name: str
    index: int
    match: dict[str, Any]
    trigger: dict[str, Any]
    action: dict[str, Any]
    rng: random.Random
    matched: int = 0
    fired: int = 0

    @property
    def kind(self) -> str:
        return self.action["kind"]

    @property
    def phase(self) -> str:
        return self.action.get("phase", "before")

    @property
    def is_webhook(self) -> bool:
        return "webhook" in self.match

    def stage(self) -> str:
        """`pre`, `terminal`, `post` or `webhook`: when the wire layer applies it."""
        kind = self.kind
        if kind in WEBHOOK_ACTIONS:
            return "webhook"
        if kind in PRE_ACTIONS:
            return "pre"
        if kind in TERMINAL_ACTIONS:
            return "terminal"
        if kind in PHASED_ACTIONS:
            return "terminal" if self.phase == "before" else "post"
        return "post"

    def matches_request(self, request: RequestView) -> bool:
        match = self.match
        if "webhook" in match:
            return False
        if "method" in match and match["method"].upper() != request.method:
            return False
        if "path" in match and not path_matches(match["path"], request.path):
            return False
        if "api_version" in match:
            wanted = match["api_version"]
            if (request.api_version or "none") != wanted:
                return False
        if match.get("query") and not _fields_match(match["query"], request.query, payload_fallback=False):
            return False
        return not (match.get("body") and not _fields_match(match["body"], request.body, payload_fallback=False))

    def matches_webhook(self, trigger: str, document: dict[str, Any]) -> bool:
        wanted = self.match.get("webhook")
        if wanted is None or (wanted != "*" and wanted != trigger):
            return False
        return not (self.match.get("body") and not _fields_match(self.match["body"], document, payload_fallback=True))

    def triggered(self) -> bool:
        """Count a match and decide whether this one fires (the caller counts `fired`)."""
        self.matched += 1
        kind = self.trigger["kind"]
        if kind == "always":
            return True
        if kind == "nth":
            return self.matched == self.trigger["n"]
        if kind == "first":
            return self.matched <= self.trigger["k"]
        return self.rng.random() < self.trigger["p"]

    def draw_latency_ms(self) -> float:
        action = self.action
        distribution = action.get("distribution", "fixed")
        if distribution == "fixed":
            return float(action["ms"])
        if distribution == "uniform":
            return self.rng.uniform(action["min_ms"], action["max_ms"])
        return float(action["median_ms"]) * math.exp(self.rng.gauss(0.0, action["sigma"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "match": copy.deepcopy(self.match),
            "trigger": copy.deepcopy(self.trigger),
            "action": copy.deepcopy(self.action),
            "matched": self.matched,
            "fired": self.fired,
        }


def _number(value: Any, where: str, *, minimum: float | None = None, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise FaultPlanError(f"{where} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if minimum is not None and value < minimum:
        raise FaultPlanError(f"{where} must be >= {minimum}, got {value!r}")
    return value


def _check_keys(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise FaultPlanError(f"{where}: unknown field(s) {sorted(unknown)} (allowed: {sorted(allowed)})")


def _parse_trigger(raw: Any, where: str) -> dict[str, Any]:
    if raw is None or raw == "always":
        return {"kind": "always"}
    if not isinstance(raw, dict) or "kind" not in raw:
        raise FaultPlanError(f"{where}: trigger must be 'always' or an object with 'kind'")
    kind = raw["kind"]
    if kind == "always":
        _check_keys(raw, {"kind"}, where)
        return {"kind": "always"}
    if kind == "nth":
        _check_keys(raw, {"kind", "n"}, where)
        return {"kind": "nth", "n": int(_number(raw.get("n"), f"{where}.n", minimum=1, integer=True))}
    if kind == "first":
        _check_keys(raw, {"kind", "k"}, where)
        return {"kind": "first", "k": int(_number(raw.get("k"), f"{where}.k", minimum=0, integer=True))}
    if kind == "probability":
        _check_keys(raw, {"kind", "p"}, where)
        p = _number(raw.get("p"), f"{where}.p", minimum=0)
        if p > 1:
            raise FaultPlanError(f"{where}.p must be between 0 and 1")
        return {"kind": "probability", "p": float(p)}
    raise FaultPlanError(f"{where}: unknown trigger kind {kind!r} (always, nth, first, probability)")


_ACTION_FIELDS: dict[str, set[str]] = {
    "status": {"status", "body", "phase"},
    "latency": {"distribution", "ms", "min_ms", "max_ms", "median_ms", "sigma"},
    "hang": {"phase", "max_ms"},
    "reset": {"phase"},
    "truncate": {"keep_bytes"},
    "malformed": set(),
    "empty": set(),
    "rewrite": {"set"},
    "stale_replay": {"key", "status"},
    "slot_steal": {"attendee", "metadata"},
    "barrier": {"parties", "timeout_ms", "key"},
    "overbook": set(),
    "reservation_expire_early": {"after_s"},
    "reservation_taken": {"attendee", "metadata"},
    "cancel_race": {"phase", "reason"},
    "webhook_duplicate": {"copies"},
    "webhook_delay": {"ms"},
    "webhook_reorder": set(),
    "webhook_drop": set(),
    "webhook_bad_signature": set(),
}


def _parse_action(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        raise FaultPlanError(f"{where}: action must be an object with a 'kind'")
    kind = raw["kind"]
    if kind not in _ACTION_FIELDS:
        raise FaultPlanError(f"{where}: unknown action kind {kind!r} (one of {sorted(_ACTION_FIELDS)})")
    _check_keys(raw, _ACTION_FIELDS[kind] | {"kind"}, where)
    action = copy.deepcopy(raw)
    if kind in PHASED_ACTIONS:
        action.setdefault("phase", "before")
        if action["phase"] not in ("before", "after"):
            raise FaultPlanError(f"{where}.phase must be 'before' or 'after'")
    if kind == "status":
        status = int(_number(raw.get("status"), f"{where}.status", minimum=100, integer=True))
        if status > 599:
            raise FaultPlanError(f"{where}.status must be an HTTP status (100-599)")
    elif kind == "latency":
        distribution = action.setdefault("distribution", "fixed")
        if distribution == "fixed":
            _number(raw.get("ms"), f"{where}.ms", minimum=0)
        elif distribution == "uniform":
            low = _number(raw.get("min_ms"), f"{where}.min_ms", minimum=0)
            high = _number(raw.get("max_ms"), f"{where}.max_ms", minimum=0)
            if high < low:
                raise FaultPlanError(f"{where}: max_ms must be >= min_ms")
        elif distribution == "lognormal":
            _number(raw.get("median_ms"), f"{where}.median_ms", minimum=0)
            _number(raw.get("sigma"), f"{where}.sigma", minimum=0)
        else:
            raise FaultPlanError(f"{where}.distribution must be fixed, uniform or lognormal")
    elif kind == "hang":
        action["max_ms"] = _number(raw.get("max_ms", 300_000), f"{where}.max_ms", minimum=0)
    elif kind == "truncate" and "keep_bytes" in raw:
        _number(raw["keep_bytes"], f"{where}.keep_bytes", minimum=0, integer=True)
    elif kind == "rewrite":
        if not isinstance(raw.get("set"), dict) or not raw["set"]:
            raise FaultPlanError(f"{where}.set must be an object of dotted path -> value")
    elif kind == "stale_replay":
        action.setdefault("key", "email+start")
        if action["key"] not in ("email+start", "start"):
            raise FaultPlanError(f"{where}.key must be 'email+start' or 'start'")
        action["status"] = int(_number(raw.get("status", 201), f"{where}.status", minimum=100, integer=True))
    elif kind == "reservation_expire_early":
        action["after_s"] = _number(raw.get("after_s", 0), f"{where}.after_s", minimum=0)
    elif kind == "cancel_race":
        action.setdefault("phase", "before")
        if action["phase"] not in ("before", "after"):
            raise FaultPlanError(f"{where}.phase must be 'before' or 'after'")
        if "reason" in raw and not isinstance(raw["reason"], str):
            raise FaultPlanError(f"{where}.reason must be a string")
    elif kind in ("slot_steal", "reservation_taken"):
        attendee = raw.get("attendee", {"name": "Outside Booker", "email": "outside@example.com"})
        if not isinstance(attendee, dict) or not isinstance(attendee.get("name"), str) or not isinstance(attendee.get("email"), str):
            raise FaultPlanError(f"{where}.attendee must be an object with name and email")
        action["attendee"] = attendee
        if "metadata" in raw and not isinstance(raw["metadata"], dict):
            raise FaultPlanError(f"{where}.metadata must be an object")
    elif kind == "barrier":
        action["parties"] = int(_number(raw.get("parties"), f"{where}.parties", minimum=1, integer=True))
        action["timeout_ms"] = _number(raw.get("timeout_ms", 2000), f"{where}.timeout_ms", minimum=0)
        action.setdefault("key", "host_slot")
        if action["key"] not in ("host_slot", "attendee"):
            raise FaultPlanError(f"{where}.key must be 'host_slot' or 'attendee'")
    elif kind == "webhook_duplicate":
        action["copies"] = int(_number(raw.get("copies", 2), f"{where}.copies", minimum=1, integer=True))
    elif kind == "webhook_delay":
        _number(raw.get("ms"), f"{where}.ms", minimum=0)
    return action


def _parse_match(raw: Any, where: str, kind: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise FaultPlanError(f"{where}: match must be an object")
    _check_keys(raw, set(MATCH_KEYS), where)
    match = copy.deepcopy(raw)
    for key in ("method", "path", "api_version", "webhook"):
        if key in match and not isinstance(match[key], str):
            raise FaultPlanError(f"{where}.{key} must be a string")
    for key in ("body", "query"):
        if key in match and not isinstance(match[key], dict):
            raise FaultPlanError(f"{where}.{key} must be an object of dotted path -> value")
    if kind in WEBHOOK_ACTIONS:
        if "webhook" not in match:
            raise FaultPlanError(f"{where}: webhook actions match with {{'webhook': 'BOOKING_CREATED' | '*'}}")
        if {"method", "path", "api_version", "query"} & set(match):
            raise FaultPlanError(f"{where}: webhook faults match on 'webhook' and 'body' only")
    elif "webhook" in match:
        raise FaultPlanError(f"{where}: 'webhook' matching needs a webhook_* action")
    if "method" in match:
        match["method"] = match["method"].upper()
    return match


class FaultPlan:
    """An ordered list of faults plus the seed their random triggers draw from."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.faults: list[Fault] = []

    @classmethod
    def parse(cls, raw: Any) -> FaultPlan:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise FaultPlanError("a fault plan is an object {'seed': int, 'faults': [...]}")
        _check_keys(raw, {"seed", "faults"}, "plan")
        seed = raw.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise FaultPlanError("plan.seed must be an integer")
        faults = raw.get("faults", [])
        if not isinstance(faults, list):
            raise FaultPlanError("plan.faults must be a list")
        plan = cls(seed)
        for entry in faults:
            plan.add(entry)
        return plan

    def add(self, raw: Any) -> Fault:
        index = len(self.faults)
        where = f"faults[{index}]"
        if not isinstance(raw, dict):
            raise FaultPlanError(f"{where}: a fault is an object with match, trigger and action")
        _check_keys(raw, {"name", "match", "trigger", "action", "matched", "fired"}, where)
        action = _parse_action(raw.get("action"), f"{where}.action")
        name = raw.get("name") or f"{action['kind']}-{index + 1}"
        if not isinstance(name, str):
            raise FaultPlanError(f"{where}.name must be a string")
        if any(f.name == name for f in self.faults):
            raise FaultPlanError(f"{where}: duplicate fault name {name!r}")
        fault = Fault(
            name=name,
            index=index,
            match=_parse_match(raw.get("match"), f"{where}.match", action["kind"]),
            trigger=_parse_trigger(raw.get("trigger"), f"{where}.trigger"),
            action=action,
            rng=random.Random(f"fake-calcom-fault:{self.seed}:{index}"),
        )
        self.faults.append(fault)
        return fault

    def __bool__(self) -> bool:
        return bool(self.faults)

    def select(self, request: RequestView) -> list[Fault]:
        """The HTTP faults that fire for `request`, in plan order (counters updated)."""
        return [f for f in self.faults if f.matches_request(request) and f.triggered()]

    def select_webhook(self, trigger: str, document: dict[str, Any]) -> list[Fault]:
        return [f for f in self.faults if f.matches_webhook(trigger, document) and f.triggered()]

    def needs_body(self) -> bool:
        return any(f.match.get("body") for f in self.faults if not f.is_webhook)

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "faults": [f.to_json() for f in self.faults]}

    def fired_counts(self) -> dict[str, int]:
        return {f.name: f.fired for f in self.faults}
