"""Helpers for the RCA scenarios: fault directives, Cal.com's request journal, exact ages.

Kept beside the scenarios (the shared toolkit stays untouched); each helper is a thin wrapper
around the fake's control plane or the scenario world, named after what a scenario means by it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from harness.slots import Slot
from harness.world import Company, World

CREATE = {"method": "POST", "path": "/v2/bookings"}

# Names the RCA reviews use (seeds/004): Call 687 was Hansi Sputer, Call 688 Hans Schuster.
HANSI = "Hansi Sputer"
HANS = "Hans Schuster"


def defense_on(name: str) -> bool:
    """Whether this run keeps a defense on (`CALHARNESS_DEFENSES_OFF`, as scenarios/conftest.py
    reads it): for an xfail that only holds while the defense behind the bug is on."""
    off = {n.strip() for n in os.environ.get("CALHARNESS_DEFENSES_OFF", "").split(",")}
    return name not in off


def fault(name: str, action: dict[str, Any], *, match: dict[str, Any] | None = None,
          trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fault directive (docs/contracts.md §1.5); matches every create unless told otherwise."""
    return {"name": name, "match": match or dict(CREATE),
            "trigger": trigger or {"kind": "always"}, "action": action}


def nth(n: int = 1) -> dict[str, Any]:
    """A trigger for only the n-th matching request."""
    return {"kind": "nth", "n": n}


def stale_replay(key: str = "email+start") -> dict[str, Any]:
    """Cal.com answers a create with an existing booking at that start (the incident)."""
    return fault("stale-replay", {"kind": "stale_replay", "key": key})


def drop_created_at() -> dict[str, Any]:
    """Cal.com's create answer arrives without `data.createdAt`."""
    return fault("no-created-at", {"kind": "rewrite", "set": {"data.createdAt": None}})


def freeze(world: World, at: datetime | None = None) -> datetime:
    """Freeze the clock shared by the fake and the service (ages become exact)."""
    world.clock.freeze(at)
    return world.clock.now()


def set_age(world: World, created_at: str, age_s: float) -> None:
    """Move the frozen shared clock so that a booking created at `created_at` is `age_s` old."""
    world.clock.freeze(parse_z(created_at) + timedelta(seconds=age_s))


def parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def upstream(world: World, *, start: Slot | None = None, active: bool = True) -> list[dict[str, Any]]:
    """Cal.com's ground-truth bookings (active ones at a slot, by default all active)."""
    bookings = world.fake.state()["bookings"]
    if active:
        bookings = [b for b in bookings if b["status"] in ("accepted", "pending")]
    if start is not None:
        bookings = [b for b in bookings if parse_z(b["start"]) == start.start_dt]
    return bookings


def journal_seq(world: World) -> int:
    """The sequence number of the fake's last journal entry (0 when empty)."""
    entries = world.fake.journal()["entries"]
    return entries[-1]["seq"] if entries else 0


def calcom_requests(world: World, since: int) -> list[str]:
    """`"METHOD /path STATUS"` for each request Cal.com saw after journal entry `since`."""
    entries = world.fake.journal(since=since)["entries"]
    return [f"{e['method']} {e['path']} {e['status']}" for e in entries if e["seq"] > since]


def creates(requests: list[str]) -> list[str]:
    return [r for r in requests if r.startswith("POST /v2/bookings ")]


def appointments(world: World, company: Company | None = None,
                 **filters: str) -> list[dict[str, Any]]:
    """A company's appointments (default Praxis Berlin) through the service's read API."""
    company = company or world.berlin
    answer = world.driver.read("appointments", company.api_key, company.id, **filters)
    assert answer.http_status == 200, answer.body
    return list(answer.body["appointments"])
