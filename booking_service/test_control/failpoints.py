"""Failpoints armed over HTTP: deterministic interleavings at named points of the flows.

The flows await `ctx.failpoint(name, **context)` at the points of docs/contracts.md §2.5. Under
test control each point may carry one directive (plain JSON, like the fake's faults):

* ``{"action": "crash", "times": 1}`` — die there (an exception the flow does not expect), the
  next `times` arrivals: "the process died between Cal.com's yes and the insert";
* ``{"action": "call", "url": "http://…", "body": {…}, "with_context": false}`` — POST to a URL
  and wait for the answer before going on: the fake's webhook flush ("the webhook overtakes the
  voice flow"), or a rendezvous on the fake's control plane (with the failpoint's context in
  the body): a barrier that holds callers across processes and replicas until all arrived.

Every arrival is recorded with its context, so the harness can see what happened where.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

#: The failpoints the reference service has (contract §2.5).
FAILPOINT_NAMES: tuple[str, ...] = (
    "collect.after_double_check",
    "collect.before_insert",
    "webhook.before_insert",
    "reconcile.before_insert",
    "cancel.before_upstream",
)
ACTIONS = ("crash", "call")

Hook = Callable[[dict[str, Any]], Awaitable[None]]


class InjectedCrash(RuntimeError):
    """Raised at a `crash` failpoint: the service dies there."""


class FailpointError(ValueError):
    """A directive that cannot be armed (the message says why)."""


def _json_safe(context: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(context, default=str))


@dataclass
class Failpoint:
    name: str
    directive: dict[str, Any]
    hits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def action(self) -> str:
        return str(self.directive["action"])

    async def __call__(self, context: dict[str, Any]) -> None:
        action = self.action
        if action == "crash":
            if len(self.hits) < int(self.directive.get("times", 1)):
                self.hits.append(_json_safe(context))
                raise InjectedCrash(f"injected crash at {self.name}")
            return
        seen = _json_safe(context)
        self.hits.append(seen)
        body = dict(self.directive.get("body") or {})
        if self.directive.get("with_context"):
            body["context"] = seen
        timeout = aiohttp.ClientTimeout(total=float(self.directive.get("timeout_s", 30.0)))
        async with aiohttp.ClientSession(timeout=timeout) as http, http.post(
                self.directive["url"], json=body) as response:
            await response.read()

    def describe(self) -> dict[str, Any]:
        return {"directive": self.directive, "hits": self.hits}


def parse_directive(name: str, document: Any) -> dict[str, Any]:
    if name not in FAILPOINT_NAMES:
        raise FailpointError(f"unknown failpoint {name!r}; known: {', '.join(FAILPOINT_NAMES)}")
    if not isinstance(document, dict) or document.get("action") not in ACTIONS:
        raise FailpointError(f"a failpoint directive is an object with action one of {ACTIONS}")
    allowed = {"crash": {"times"},
               "call": {"url", "body", "timeout_s", "with_context"}}[document["action"]] | {"action"}
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise FailpointError(f"{document['action']}: unknown field(s) {unknown}")
    times = document.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise FailpointError("times must be a positive integer")
    if not isinstance(document.get("body", {}), dict):
        raise FailpointError("call: body must be an object")
    if "timeout_s" in document and (isinstance(document["timeout_s"], bool)
                                    or not isinstance(document["timeout_s"], int | float)
                                    or document["timeout_s"] <= 0):
        raise FailpointError("timeout_s must be a positive number")
    if document["action"] == "call" and not str(document.get("url", "")).startswith(
            ("http://", "https://")):
        raise FailpointError("call needs an http(s) url")
    return dict(document)


class Failpoints:
    """The armed failpoints; `hooks` is what `Settings.failpoints` points at."""

    def __init__(self, hooks: dict[str, Hook]) -> None:
        self.hooks = hooks
        self.armed: dict[str, Failpoint] = {}

    def arm(self, name: str, document: Any) -> Failpoint:
        point = Failpoint(name, parse_directive(name, document))
        self.armed[name] = point
        self.hooks[name] = point
        return point

    def disarm(self, name: str) -> None:
        self.armed.pop(name, None)
        self.hooks.pop(name, None)

    def clear(self) -> None:
        self.armed.clear()
        self.hooks.clear()

    def describe(self) -> dict[str, Any]:
        return {name: point.describe() for name, point in self.armed.items()}
