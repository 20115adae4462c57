"""No phantom booking: every upstream booking the service made was asked for.

An API booking (of the service's Cal.com users) is asked for when a booking request of the call
named in its creation metadata targeted its start (or gave no slot), when an answer names it, or
— for a booking made by rescheduling — when some reschedule asked for its start. Outside
bookings (origin ``outside``) are the harness's own and never phantoms. Judged per booking.
"""

from __future__ import annotations

from harness.checks.facts import Facts, asks_to_book
from harness.checks.inputs import UpstreamBooking
from harness.checks.verdict import PHANTOM_BOOKING, Verdict, Violation

NAME = "no-phantom-booking"


def _asked_for(facts: Facts, b: UpstreamBooking) -> bool:
    if b.call_id is not None and (
            (b.call_id, b.start_s) in facts.booking_requests
            or (b.call_id, None) in facts.booking_requests):
        return True
    if any(asks_to_book(op) for op in facts.ops_by_uid.get(b.uid, ())):
        return True
    return b.rescheduled_from_uid is not None and b.start_s in facts.reschedule_instants


def check(facts: Facts) -> Verdict:
    if facts.truth is None or facts.history is None:
        return Verdict.skip(NAME, "needs the history and Cal.com ground truth")
    owners = facts.options.service_key_owners
    violations = []
    checked = 0
    for b in facts.truth.bookings:
        if b.origin != "api" or (owners is not None and b.api_key_owner not in owners):
            continue
        checked += 1
        if _asked_for(facts, b):
            continue
        why = (f"no booking request of call {b.call_id} targeted {b.start}" if b.call_id
               else "its metadata names no call and no answer names it")
        violations.append(Violation(
            kind=PHANTOM_BOOKING, key=f"booking {b.uid}",
            message=f"the service made booking {b.uid} ({b.status}, {b.start}) but {why}",
            operations=facts.evidence(call_ids=[b.call_id], uids=[b.uid]),
            bookings=[b], appointments=list(facts.appointments_by_uid.get(b.uid, ())),
        ))
    return Verdict.of(NAME, violations, checked=checked)
