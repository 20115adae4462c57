"""One upstream booking per call: no retry, however the first attempt ended, leaves a second one.

A call may hold several bookings only for several slots it asked for. Per call, from Cal.com's
ground truth (API bookings whose creation metadata names the call):

* at most one active booking per start the call asked to book (across hosts: a retry that
  landed on another host of a round-robin event type is still a second booking);
* no more active bookings than distinct starts the call asked to book;
* a booking that was rescheduled is no longer active once its successor is (a reschedule
  that books the new slot but leaves the old one is two bookings for one appointment).

Judged per call.
"""

from __future__ import annotations

from collections import defaultdict

from harness.checks.facts import Facts
from harness.checks.inputs import UpstreamBooking
from harness.checks.verdict import SECOND_UPSTREAM_BOOKING, Verdict, Violation

NAME = "one-upstream-booking-per-call"


def _asked_starts(facts: Facts, call_id: str) -> set[int]:
    return {start for (call, start) in facts.booking_requests if call == call_id
            and start is not None}


def check(facts: Facts) -> Verdict:
    if facts.history is None or facts.truth is None:
        return Verdict.skip(NAME, "needs the history and Cal.com ground truth")
    violations: list[Violation] = []
    for call_id, bookings in facts.bookings_by_call.items():
        active = [b for b in bookings if b.active]
        evidence = facts.evidence(call_ids=[call_id])
        by_start: dict[int | None, list[UpstreamBooking]] = defaultdict(list)
        for b in active:
            by_start[b.start_s].append(b)
        for group in by_start.values():
            if len(group) > 1:
                violations.append(Violation(
                    kind=SECOND_UPSTREAM_BOOKING, key=f"call {call_id} @ {group[0].start}",
                    message=(f"call {call_id} holds {len(group)} active Cal.com bookings at "
                             f"{group[0].start} (hosts "
                             + ", ".join(f"{b.uid}: {list(b.host_ids)}" for b in group) + ")"),
                    operations=evidence, bookings=group,
                ))
        asked = _asked_starts(facts, call_id)
        if asked and len(by_start) > len(asked):
            violations.append(Violation(
                kind=SECOND_UPSTREAM_BOOKING, key=f"call {call_id}",
                message=(f"call {call_id} asked to book {len(asked)} slot(s) but holds active "
                         f"Cal.com bookings at {len(by_start)} starts: "
                         + ", ".join(sorted(b.start for b in active))),
                operations=evidence, bookings=active,
            ))
        for b in active:
            parent = facts.bookings_by_uid.get(b.rescheduled_from_uid or "")
            if parent is not None and parent.active:
                violations.append(Violation(
                    kind=SECOND_UPSTREAM_BOOKING, key=f"call {call_id} / booking {parent.uid}",
                    message=(f"booking {parent.uid} ({parent.start}) of call {call_id} was "
                             f"rescheduled to {b.uid} ({b.start}) but is still active"),
                    operations=evidence, bookings=[parent, b],
                ))
    return Verdict.of(NAME, violations, checked=len(facts.bookings_by_call))
