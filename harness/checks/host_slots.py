"""At most one active upstream booking per host and time (collective bookings block every host).

The customer-visible double booking: two people expect the same host at the same time. Judged on
Cal.com's ground truth per host, by a sweep over that host's active bookings sorted by start, so
overlapping (not only identical) times count.
"""

from __future__ import annotations

from collections import defaultdict

from harness.checks.facts import Facts, overlapping_groups
from harness.checks.inputs import UpstreamBooking
from harness.checks.verdict import DOUBLE_BOOKING, Verdict, Violation

NAME = "host-slot-exclusive"


def check(facts: Facts) -> Verdict:
    if facts.truth is None:
        return Verdict.skip(NAME, "no Cal.com ground truth")
    by_host: dict[int, list[UpstreamBooking]] = defaultdict(list)
    active = 0
    for b in facts.truth.bookings:
        if b.active:
            active += 1
            for host in b.host_ids:
                by_host[host].append(b)
    violations = []
    for host, bookings in by_host.items():
        for group in overlapping_groups(bookings):
            violations.append(Violation(
                kind=DOUBLE_BOOKING,
                key=f"host {host} @ {group[0].start}",
                message=(f"{len(group)} active Cal.com bookings hold host {host} at "
                         f"{group[0].start}: " + ", ".join(b.uid for b in group)),
                operations=facts.evidence(call_ids=[b.call_id for b in group],
                                          uids=[b.uid for b in group]),
                bookings=group,
                appointments=[a for b in group for a in facts.appointments_by_uid.get(b.uid, ())],
                details={"layer": "upstream", "host_id": host},
            ))
    return Verdict.of(NAME, violations, checked=active)
