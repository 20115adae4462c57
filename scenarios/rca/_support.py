"""Helpers for the RCA scenarios: the incident's names, Cal.com's request journal, exact ages.

Faults come from `harness.faults`; the clock, Cal.com's ground truth and the defenses from the
world (`world.freeze`, `world.upstream`, `world.defense_on`, and for decisions at import time
`harness.world.defense_on_in_env`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from harness.slots import parse_z
from harness.world import Company, World

# Names the RCA reviews use (seeds/004): Call 687 was Hansi Sputer, Call 688 Hans Schuster.
HANSI = "Hansi Sputer"
HANS = "Hans Schuster"


def set_age(world: World, created_at: str, age_s: float) -> None:
    """Move the frozen shared clock so that a booking created at `created_at` is `age_s` old."""
    world.freeze(parse_z(created_at) + timedelta(seconds=age_s))


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
    """A company's appointments (default Praxis Berlin) through the service's read API — this
    scenario's only, where the target is shared (`World.scoped`)."""
    company = company or world.berlin
    answer = world.driver.read("appointments", company.api_key, company.id, **filters)
    assert answer.http_status == 200, answer.body
    return world.scoped(answer.body["appointments"])
