"""At most one active local appointment per host and time.

The service's own view of the same invariant as ``host-slot-exclusive``: it fails when the
service records two callers in one slot even if Cal.com holds only one of them.
"""

from __future__ import annotations

from collections import defaultdict

from harness.checks.facts import Facts, overlapping_groups
from harness.checks.inputs import Appointment
from harness.checks.verdict import DOUBLE_BOOKING, Verdict, Violation

NAME = "local-slot-exclusive"


def _slot_owner(a: Appointment) -> tuple[object, ...]:
    # Without a host, appointments of one company's event type compete for the slot.
    if a.host_id is not None:
        return ("host", a.host_id)
    return ("company", a.company_id, "event type", a.event_type_id)


def check(facts: Facts) -> Verdict:
    if facts.service is None:
        return Verdict.skip(NAME, "no service view")
    by_owner: dict[tuple[object, ...], list[Appointment]] = defaultdict(list)
    active = 0
    for a in facts.appointments:
        if a.active:
            active += 1
            by_owner[_slot_owner(a)].append(a)
    violations = []
    for owner, appointments in by_owner.items():
        for group in overlapping_groups(appointments):
            who = " ".join(str(part) for part in owner)
            violations.append(Violation(
                kind=DOUBLE_BOOKING,
                key=f"{who} @ {group[0].start}",
                message=(f"{len(group)} active appointments hold {who} at {group[0].start}: ids "
                         + ", ".join(str(a.id) for a in group)),
                operations=facts.evidence(call_ids=[a.call_id for a in group],
                                          uids=[a.booking_uid for a in group]),
                appointments=group,
                bookings=[b for a in group
                          if a.booking_uid and (b := facts.bookings_by_uid.get(a.booking_uid))],
                details={"layer": "local"},
            ))
    return Verdict.of(NAME, violations, checked=active)
