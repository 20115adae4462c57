"""No caller holds a booking made for another call (the Call 687/688 case).

A caller *holds* a booking when the service told them so (a ``collect``/``reschedule`` answered
``booked``/``rescheduled`` with its uid) or when an appointment links their call to it. Cal.com's
ground truth says whom each booking was made for: the ``call_id`` in the metadata it was created
with (never changed by a replay), or an outside booker (origin ``outside``). Judged per
(call, booking uid).
"""

from __future__ import annotations

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


def _made_for_caller(facts: Facts, call_id: str, booking: UpstreamBooking) -> bool:
    if booking.origin == "api" and booking.call_id == call_id:
        return True  # the common case, without walking reschedule chains
    return call_id in facts.made_for(booking)


def check(facts: Facts) -> Verdict:
    if facts.truth is None:
        return Verdict.skip(NAME, "no Cal.com ground truth")
    found: dict[tuple[str, str], Violation] = {}  # insertion order keeps reports stable

    def judge(call_id: str, uid: str, ops: list[Operation], appointment: Appointment | None) -> None:
        booking = facts.bookings_by_uid.get(uid)
        if booking is None or _made_for_caller(facts, call_id, booking):
            return  # no such booking upstream: lost-booking / drift report that
        violation = found.get((call_id, uid))
        if violation is None:
            how = "was told it holds" if ops else "is linked by an appointment to"
            violation = found[(call_id, uid)] = Violation(
                kind=STOLEN_BOOKING,
                key=f"call {call_id} / booking {uid}",
                message=f"call {call_id} {how} booking {uid}, which was made for {_whose(booking)}",
                operations=ops or facts.evidence(call_ids=[call_id]),
                bookings=[booking],
                details={"holder_call_id": call_id, "made_for_call_id": booking.call_id,
                         "origin": booking.origin},
            )
        if appointment is not None:
            violation.appointments.append(appointment)

    for (call_id, uid), ops in facts.told_booked.items():
        judge(call_id, uid, ops, None)
    links = 0
    for a in facts.appointments:
        if a.call_id is not None and a.booking_uid is not None:
            links += 1
            judge(a.call_id, a.booking_uid, [], a)
    return Verdict.of(NAME, list(found.values()), checked=len(facts.told_booked) + links)
