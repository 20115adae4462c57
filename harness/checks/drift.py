"""The service's appointments agree with Cal.com (contract §2.7's reconciliation, as a check).

Per appointment with a booking uid: a local active appointment needs an active upstream booking
(else it is an orphan: missing, cancelled or rejected upstream); a local cancelled/rescheduled
one must not be active upstream; when both are active, start, end and attendee name agree. An
active appointment without a uid is drift too. With ``expect_imported``, every active upstream
booking needs an appointment. Judged per booking uid.
"""

from __future__ import annotations

from harness.checks.facts import Facts
from harness.checks.verdict import DRIFT, Verdict, Violation

NAME = "db-matches-calcom"


def check(facts: Facts) -> Verdict:
    if facts.truth is None or facts.service is None:
        return Verdict.skip(NAME, "needs the service view and Cal.com ground truth")
    violations = []
    for a in facts.appointments:
        booking = facts.bookings_by_uid.get(a.booking_uid) if a.booking_uid else None
        reasons = []
        if a.booking_uid is None:
            if a.active:
                reasons.append("local active appointment has no Cal.com booking uid")
        elif booking is None:
            if a.active:
                reasons.append(f"local {a.status} but Cal.com has no booking {a.booking_uid}")
        elif a.active != booking.active:
            reasons.append(f"local {a.status} but Cal.com booking is {booking.status}")
        elif a.active:
            if a.start_s != booking.start_s:
                reasons.append(f"start differs: local {a.start}, Cal.com {booking.start}")
            elif a.end_s is not None and booking.end_s is not None and a.end_s != booking.end_s:
                reasons.append(f"end differs: local {a.end}, Cal.com {booking.end}")
            if a.customer_name is not None and not booking.attendee_matches(a.customer_name):
                reasons.append(f"attendee differs: local {a.customer_name!r}, "
                               f"Cal.com {booking.attendee_name!r}")
        if reasons:
            violations.append(Violation(
                kind=DRIFT, key=f"appointment {a.id} / booking {a.booking_uid}",
                message=f"appointment {a.id}: " + "; ".join(reasons),
                operations=facts.evidence(call_ids=[a.call_id], uids=[a.booking_uid]),
                appointments=[a], bookings=[booking] if booking else [],
                details={"reasons": reasons},
            ))
    if facts.options.expect_imported:
        for b in facts.truth.bookings:
            if b.active and b.uid not in facts.appointments_by_uid:
                violations.append(Violation(
                    kind=DRIFT, key=f"booking {b.uid}",
                    message=f"Cal.com booking {b.uid} ({b.status}, {b.start}) has no appointment",
                    operations=facts.evidence(call_ids=[b.call_id], uids=[b.uid]),
                    bookings=[b], details={"reasons": ["missing locally"]},
                ))
    return Verdict.of(NAME, violations, checked=len(facts.appointments))
