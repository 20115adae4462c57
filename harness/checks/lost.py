"""No lost booking, and never two bookings for one call and slot.

Forward: a caller told "booked" (uid U) has an appointment for U and Cal.com holds U. An answer
naming no uid (a service with references of its own) must be backed by an active Cal.com booking
made for that call at that start (attribution: harness/checks/attribution.py).

Backward: an active API booking made for call X at a slot X asked for, which X was never told
about, is lost unless the service accounts for it (an appointment for it exists: reconciliation
or a webhook imported it). A definite refusal (``fail``: ``slot_taken``, ``rate_limited`` …)
does not excuse it — the caller was told "no" while the slot is theirs upstream. An unknown
outcome (``info``) does: it may have booked. After a repairing reconciliation
(``CheckOptions.reconciled``) nothing excuses it. A booking at a slot X never asked for is the
phantom check's.

Never twice: at most one active booking per call and slot, whatever the outcomes said.
Judged per call.
"""

from __future__ import annotations

from collections import defaultdict

from harness.checks.facts import Facts
from harness.checks.inputs import UpstreamBooking, instant
from harness.checks.verdict import DUPLICATE_BOOKING, LOST_BOOKING, Verdict, Violation

NAME = "no-lost-booking"


def check(facts: Facts) -> Verdict:
    missing = [what for what, have in (("history", facts.history),
                                       ("Cal.com ground truth", facts.truth)) if have is None]
    if missing:
        return Verdict.skip(NAME, "no " + ", ".join(missing))
    # A service that shows no appointments (a stateless proxy) is judged on Cal.com alone.
    local = facts.service is not None
    violations: list[Violation] = []

    told = facts.told_booked
    for op in facts.told_unnamed:
        violations.append(Violation(
            kind=LOST_BOOKING, key=f"call {op.call_id} @ {op.slot}",
            message=(f"call {op.call_id} was told it is booked at {op.slot} (no Cal.com booking "
                     f"named), but Cal.com holds no active booking made for it there"),
            operations=[op], bookings=[b for b in facts.bookings_by_call.get(op.call_id or "", ())],
            details={"direction": "told-booked", "named": False},
        ))
    for (call_id, uid), ops in told.items():
        booking = facts.bookings_by_uid.get(uid)
        appointments = facts.appointments_by_uid.get(uid, [])
        if booking is not None and (appointments or not local):
            continue
        gaps = []
        if booking is None:
            gaps.append("Cal.com has no such booking")
        if local and not appointments:
            gaps.append("the service has no appointment for it")
        violations.append(Violation(
            kind=LOST_BOOKING, key=f"call {call_id} / booking {uid}",
            message=f"call {call_id} was told it is booked ({uid}) but " + " and ".join(gaps),
            operations=ops, appointments=appointments, bookings=[booking] if booking else [],
            details={"direction": "told-booked"},
        ))

    for call_id, bookings in facts.bookings_by_call.items():
        by_start: dict[int | None, list[UpstreamBooking]] = defaultdict(list)
        for b in bookings:
            if not b.active:
                continue
            by_start[b.start_s].append(b)
            if (call_id, b.uid) in told:
                continue
            asked = facts.requests_for(call_id, b.start_s)
            if not asked:
                continue  # nobody asked for this slot: the phantom check reports it
            refused = all(op.type == "fail" for op in asked)
            # An appointment accounts for the booking only if the caller may believe in it: after
            # an unknown outcome. A caller told a definite refusal thinks there is no booking,
            # whatever reconciliation imported later.
            if b.uid in facts.appointments_by_uid and not refused:
                continue
            if not facts.options.reconciled and any(op.type == "info" for op in asked):
                continue  # the caller's outcome is unknown: it may have booked
            outcomes = ", ".join(f"{op.type} {op.status or ''}".strip() for op in asked) or "none"
            violations.append(Violation(
                kind=LOST_BOOKING, key=f"call {call_id} / booking {b.uid}",
                message=(f"Cal.com holds booking {b.uid} at {b.start} made for call {call_id}, "
                         f"but the caller was never told"
                         + (" (the service has an appointment for it the caller does not know of)"
                            if b.uid in facts.appointments_by_uid else
                            " and the service has no appointment")
                         + f" (outcomes of its requests for that slot: {outcomes})"),
                operations=asked, bookings=[b],
                details={"direction": "booked-untold"},
            ))
        for start, group in by_start.items():
            if len(group) > 1:
                ops = facts.ops_by_call.get(call_id, [])
                violations.append(Violation(
                    kind=DUPLICATE_BOOKING, key=f"call {call_id} @ {group[0].start}",
                    message=(f"call {call_id} has {len(group)} active Cal.com bookings at "
                             f"{group[0].start}: " + ", ".join(b.uid for b in group)),
                    operations=[op for op in ops if instant(op.slot) in (start, None)] or ops,
                    bookings=group,
                    appointments=[a for b in group
                                  for a in facts.appointments_by_uid.get(b.uid, ())],
                ))
    return Verdict.of(NAME, violations,
                      checked=len(told) + len(facts.told_unnamed) + len(facts.bookings_by_call))
