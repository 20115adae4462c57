"""Helpers for the resilience scenarios: faults on Cal.com's endpoints, time, and what the fake saw."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from harness.embedded_service import context_of
from harness.world import World

CREATE = ("POST", "/v2/bookings")
SLOTS = ("GET", "/v2/slots")
LIST = ("GET", "/v2/bookings")

#: A Cal.com timeout short enough that a hang costs a fraction of a second, long enough that
#: loopback answers never miss it (they take milliseconds).
SHORT_TIMEOUT_S = 0.25


def fault(name: str, endpoint: tuple[str, str], action: dict[str, Any], *,
          first: int | None = None, nth: int | None = None) -> dict[str, Any]:
    """A fault directive (contract §1.5) on one endpoint: always, on the first `first` matching
    requests, or on the `nth` one only."""
    trigger: dict[str, Any] = {"kind": "always"}
    if first is not None:
        trigger = {"kind": "first", "k": first}
    elif nth is not None:
        trigger = {"kind": "nth", "n": nth}
    method, path = endpoint
    return {"name": name, "match": {"method": method, "path": path}, "trigger": trigger,
            "action": action}


def status(code: int, phase: str = "before") -> dict[str, Any]:
    return {"kind": "status", "status": code, "phase": phase}


@contextlib.contextmanager
def calcom_timeout(world: World, seconds: float = SHORT_TIMEOUT_S) -> Iterator[None]:
    """Run with the service's Cal.com client timeout at `seconds` (the stack's is 2 s), restored
    after: a scenario whose upstream hangs then waits a fraction of a second, not two."""
    assert world.stack.service_app is not None
    client = context_of(world.stack.service_app).calcom
    before = client.timeout_s
    client.timeout_s = seconds
    try:
        yield
    finally:
        client.timeout_s = before


def freeze(world: World) -> None:
    """Stop the shared clock: the service's policy waits (backoff, rate-limit windows) then move
    virtual time forward and return at once, and the fake's windows follow the same time line.
    The world's reset makes the clock real again. Only for scenarios whose callers take turns:
    with a frozen clock one caller's wait moves time for everyone mid-flight."""
    world.clock.freeze()


def requests_seen(world: World, method: str, path: str) -> dict[int, int]:
    """How many `method path` requests the fake answered, by HTTP status."""
    counts: dict[int, int] = {}
    for key, n in world.fake.stats()["requests"].items():
        verb, route, code = key.split(" ")
        if verb == method and route == path:
            counts[int(code)] = counts.get(int(code), 0) + n
    return counts


def fired(world: World, name: str) -> int:
    """How often the fault called `name` has fired."""
    return sum(int(f["fired"]) for f in world.fake.faults()["faults"] if f["name"] == name)


def upstream_bookings(world: World) -> list[dict[str, Any]]:
    """The fake's ground truth: every booking, active or not."""
    return list(world.fake.state()["bookings"])


def circuit_state(world: World) -> str:
    """The service's circuit breaker as `/healthz` reports it."""
    answer = world.stack.service.health()  # type: ignore[union-attr]
    return str(answer.body["calcom_circuit"])
