"""No caller holds a booking made for another call (the Call 687/688 case).

A caller *holds* a booking when the service told them so (a ``collect``/``reschedule`` answered
``booked``/``rescheduled`` with its uid) or when an appointment links their call to it. Cal.com's
ground truth says whom each booking was made for: the ``call_id`` in the metadata it was created
with (never changed by a replay), or an outside booker (origin ``outside``). Judged per
(call, booking uid).
"""

from __future__ import annotations

from collections import defaultdict

from harness.checks.facts import Facts
from harness.checks.inputs import Appointment, UpstreamBooking
from harness.checks.verdict import STOLEN_BOOKING, Verdict, Violation
from harness.history import Operation

NAME = "no-stolen-booking"


def _whose(booking: UpstreamBooking) -> str:
    if booking.origin != "api":
        return (f"an outside booker ({booking.attendee_name or '?'}, origin {booking.origin}, "
                f"created {booking.created_at or '?'})")
    if booking.call_id is None:
        return f"no call (API booking without a call_id, created {booking.created_at or '?'})"
    return f"call {booking.call_id} (attendee {booking.attendee_name or '?'}, created {booking.created_at or '?'})"


def check(facts: Facts) -> Verdict:
    if facts.truth is None:
        return Verdict.skip(NAME, "no Cal.com ground truth")
    held_ops: dict[tuple[str, str], list[Operation]] = defaultdict(list)
    held_appointments: dict[tuple[str, str], list[Appointment]] = defaultdict(list)
    for call_id, uids in facts.told_booked.items():
        for uid, ops in uids.items():
            held_ops[(call_id, uid)].extend(ops)
    for a in facts.appointments:
        if a.call_id is not None and a.booking_uid is not None:
            held_appointments[(a.call_id, a.booking_uid)].append(a)
    keys = dict.fromkeys(held_ops)  # insertion order keeps reports stable run to run
    keys.update(dict.fromkeys(held_appointments))
    violations = []
    for call_id, uid in keys:
        booking = facts.bookings_by_uid.get(uid)
        if booking is None:
            continue  # no such booking upstream: lost-booking / drift report it
        if call_id in facts.made_for(booking):
            continue
        ops = held_ops.get((call_id, uid), [])
        appointments = held_appointments.get((call_id, uid), [])
        how = "was told it holds" if ops else "is linked by an appointment to"
        violations.append(Violation(
            kind=STOLEN_BOOKING,
            key=f"call {call_id} / booking {uid}",
            message=f"call {call_id} {how} booking {uid}, which was made for {_whose(booking)}",
            operations=ops or facts.evidence(call_ids=[call_id]),
            appointments=appointments,
            bookings=[booking],
            details={"holder_call_id": call_id, "made_for_call_id": booking.call_id,
                     "origin": booking.origin},
        ))
    return Verdict.of(NAME, violations, checked=len(keys))
