"""Helpers for the RCA scenarios: the incident's names, Cal.com's request journal, exact ages.

Faults come from `harness.faults`; the clock, Cal.com's ground truth and the defenses from the
world (`world.freeze`, `world.upstream`, `world.defense_on`, and for decisions at import time
`harness.world.defense_on_in_env`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def company_id(company: Company, listed: Iterable[Mapping[str, Any]]) -> Any:
    """The tenant's id: as the target names it; else (a black-box target file may not) the one
    its own appointments `listed` carry, which must then all agree on it."""
    if company.id is not None:
        return company.id
    ids = {a["company_id"] for a in listed}
    assert len(ids) == 1, f"{company.role}'s appointments name several companies: {ids}"
    return ids.pop()


def appointments(world: World, company: Company | None = None,
                 **filters: str) -> list[dict[str, Any]]:
    """A company's appointments (default Praxis Berlin) through the service's read API — this
    scenario's only, where the target is shared (`World.scoped`): read day by day over the
    scenario's own days there, since a shared tenant holds more than one page. A `call_id`
    filter names the scenario's call (the driver's id for it)."""
    company = company or world.berlin
    if "call_id" in filters:
        filters["call_id"] = world.driver.call_id(filters["call_id"])
    if world.session.resets:
        reads = [filters]
    else:
        reads = [{**filters, "date": day.isoformat(), "limit": "1000"}
                 for day in world.scenario_days()]
    seen: dict[Any, dict[str, Any]] = {}
    for read in reads:
        answer = world.driver.read("appointments", company.api_key, company.id, **read)
        assert answer.http_status == 200, answer.body
        for item in answer.body["appointments"]:
            seen[item["id"]] = item
    return world.scoped(seen.values())
