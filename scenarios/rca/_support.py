"""Helpers for the RCA scenarios: the incident's names, Cal.com's request journal, exact ages.

Faults come from `harness.faults`; the clock, Cal.com's ground truth and the defenses from the
world (`world.freeze`, `world.upstream`, `world.defense_on`, and for decisions at import time
`harness.world.defense_on_in_env`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from harness.capabilities import MissingCapability
from harness.slots import parse_z
from harness.world import Company, World, world_for

# Names the RCA reviews use (seeds/004): Call 687 was Hansi Sputer, Call 688 Hans Schuster.
HANSI = "Hansi Sputer"
HANS = "Hans Schuster"


def set_age(world: World, created_at: str, age_s: float) -> None:
    """Move the frozen shared clock so that a booking created at `created_at` is `age_s` old."""
    world.freeze(parse_z(created_at) + timedelta(seconds=age_s))


def fallback_email(world: World, company: Company | None = None) -> str:
    """The address the service books a caller who gives no e-mail with (the company's fallback,
    the incident's trigger). The target names it (test control does); else (a black-box target
    file may not) it is learned once per run, as a caller would find it, in a world of its own
    (its own days and history, judged): a caller without an e-mail books, Cal.com's booking
    shows the address, and the caller cancels again. Call it before arming faults (that world
    clears them). Needs book, cancel, ground_truth. "" when the service books such a caller
    with no address at all (Cal.com's dedupe then has none to match)."""
    company = company or world.berlin
    if company.fallback_email is not None:
        return company.fallback_email
    assert not world.session.resets, "the target's test control names no fallback e-mail"
    with world_for(world.session) as probe:
        slot = probe.slot(days_ahead=2, hour=16, minute=30)
        booked = probe.driver.collect(slot, name="Frieda Fallback", call_id="call_fallback",
                                      to_number=company.phone)
        assert booked.status == "booked", booked.body
        [booking] = [b for b in probe.upstream(start=slot)
                     if b["uid"] == booked.body["booking_uid"]]
        cancelled = probe.driver.cancel(call_id="call_fallback", to_number=company.phone,
                                        appointment_id=booked.body["appointment_id"])
        assert cancelled.status == "cancelled", cancelled.body
    email = str(booking["attendees"][0]["email"])
    world.session.companies[company.role] = replace(company, fallback_email=email)
    return email


#: The address two callers share where the service has no fallback address of its own.
SHARED_EMAIL = "familie.schuster@example.com"


def dedupe_email(world: World, company: Company | None = None) -> tuple[str, str | None]:
    """The e-mail address that makes Cal.com's round-robin dedupe hand one caller's booking to
    another, and the `email` each caller then gives: the company's fallback address with none
    given (the incident's trigger: every e-mail-less caller is booked under it); where the
    service has no fallback (it books such a caller without an address), one address both
    callers give — a family's. Needs what `fallback_email` needs."""
    fallback = fallback_email(world, company)
    return (fallback, None) if fallback else (SHARED_EMAIL, SHARED_EMAIL)


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
    filter names the scenario's call (the driver's id for it). Without the read API, what the
    adapter lists (`World.appointments`; scenarios declare `appointments`) — unfiltered: an API
    that records no call cannot be asked for one's."""
    company = company or world.berlin
    if not world.has("tenant_reads"):
        if filters:
            raise MissingCapability("tenant_reads")
        return world.appointments(company)
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
