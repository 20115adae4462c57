"""At most one local appointment per Cal.com booking uid (any status).

What the UNIQUE index on ``appointments.calcom_booking_uid`` guarantees; two rows for one uid
mean one upstream booking counted (and maybe handed out) twice.
"""

from __future__ import annotations

from harness.checks.facts import Facts
from harness.checks.verdict import DUPLICATE_APPOINTMENT, Verdict, Violation

NAME = "one-appointment-per-booking"


def check(facts: Facts) -> Verdict:
    if facts.service is None:
        return Verdict.skip(NAME, "no service view")
    violations = []
    by_uid = facts.appointments_by_uid
    for uid, appointments in by_uid.items():
        if len(appointments) > 1:
            booking = facts.bookings_by_uid.get(uid)
            violations.append(Violation(
                kind=DUPLICATE_APPOINTMENT,
                key=f"booking {uid}",
                message=(f"{len(appointments)} appointments for booking {uid}: ids "
                         + ", ".join(f"{a.id} (call {a.call_id}, source {a.source})"
                                     for a in appointments)),
                operations=facts.evidence(call_ids=[a.call_id for a in appointments], uids=[uid]),
                appointments=appointments,
                bookings=[booking] if booking is not None else [],
            ))
    return Verdict.of(NAME, violations, checked=len(by_uid))
