"""Told matches booked: what a caller was told is exactly what Cal.com holds for that call.

For every answer that told a caller "booked" / "rescheduled" and the Cal.com booking it names
(or the call's booking at the start it told, see `Facts.told_booked`):

* the start the answer names, and the start the caller asked for (the history's slot, the
  harness's reading of ``datum``/``uhrzeit`` in the practice's zone), are the booking's start;
* the date, time and weekday the German message speaks of are the booking's start in the
  practice's zone (``CheckOptions.zone``) — a summer/winter-time slip shows here;
* the booking's attendee is a name the call gave (and an e-mail, when a usable address was
  given) — a retry may correct the name, a stale answer names someone else;
* the service's appointment for it has Cal.com's event type, and every call that asked for one
  service got one event type (one ``dienstleistung`` → one Cal.com event type per run).

Judged per answer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from harness.checks.facts import Facts
from harness.checks.inputs import UpstreamBooking, instant
from harness.checks.verdict import TOLD_MISMATCH, Verdict, Violation
from harness.history import Operation

NAME = "told-matches-booked"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
_SPOKEN = re.compile(r"(?:(?P<weekday>[A-Z][a-z]+tag|Mittwoch), )?(?P<d>\d{1,2})\.(?P<m>\d{1,2})"
                     r"\.(?P<y>\d{4}) um (?P<H>\d{1,2}):(?P<M>\d{2})")


def _args(op: Operation) -> dict[str, Any]:
    request = op.request
    if not isinstance(request, dict):
        return {}
    nested = request.get("args")
    return nested if isinstance(nested, dict) else request


def _norm(text: Any) -> str:
    return " ".join(str(text).split()).casefold() if text else ""


def _spoken_mismatch(message: Any, booking: UpstreamBooking, zone: str) -> str | None:
    """Why the message's first spoken date/time is not the booking's local start (or None)."""
    if not isinstance(message, str) or booking.start_s is None:
        return None
    match = _SPOKEN.search(message)
    if match is None:
        return None
    local = datetime.fromtimestamp(booking.start_s, UTC).astimezone(ZoneInfo(zone))
    told = (int(match["y"]), int(match["m"]), int(match["d"]), int(match["H"]), int(match["M"]))
    held = (local.year, local.month, local.day, local.hour, local.minute)
    if told != held:
        return (f"the message says {match.group(0)!r} but Cal.com holds "
                f"{local:%d.%m.%Y %H:%M} {zone} ({booking.start})")
    weekday = match["weekday"]
    if weekday and weekday != _WEEKDAYS[local.weekday()]:
        return f"the message says {weekday} but {local:%d.%m.%Y} is a {_WEEKDAYS[local.weekday()]}"
    return None


def _mismatches(facts: Facts, op: Operation, booking: UpstreamBooking) -> list[str]:
    answer = op.answer if isinstance(op.answer, dict) else {}
    gaps: list[str] = []
    told_start = instant(answer.get("start"))
    if told_start is not None and told_start != booking.start_s:
        gaps.append(f"the answer says start {answer.get('start')} but Cal.com holds {booking.start}")
    asked = instant(op.slot)
    if asked is not None and asked != booking.start_s:
        gaps.append(f"the caller asked for {op.slot} but Cal.com holds {booking.start}")
    spoken = _spoken_mismatch(answer.get("message"), booking, facts.options.zone)
    if spoken:
        gaps.append(spoken)
    if op.f == "collect":
        # A retry of the call may give the name anew (corrected, or misheard): the booking must
        # carry a name and address this call gave, not necessarily the last one.
        given = [_args(o) for o in facts.ops_by_call.get(op.call_id or "", ())
                 if o.f == "collect"] or [_args(op)]
        names = [str(a["name"]) for a in given if a.get("name")]
        if names and not any(booking.attendee_matches(n) for n in names):
            gaps.append(f"the caller gave the name {names[-1]!r} but Cal.com's attendee is "
                        f"{booking.attendee_name!r}")
        # Only an address the service can use must reach Cal.com (a spoken "… at …" may not).
        emails = [_norm(a["email"]) for a in given
                  if isinstance(a.get("email"), str) and _EMAIL.match(a["email"].strip())]
        if emails and booking.attendee_email and _norm(booking.attendee_email) not in emails:
            gaps.append(f"the caller gave the e-mail {emails[-1]!r} but Cal.com's attendee has "
                        f"{booking.attendee_email!r}")
    for a in facts.appointments_by_uid.get(booking.uid, ()):
        if (a.event_type_id is not None and booking.event_type_id is not None
                and a.event_type_id != booking.event_type_id):
            gaps.append(f"appointment {a.id} shows event type {a.event_type_id} but Cal.com's "
                        f"booking is of event type {booking.event_type_id}")
    return gaps


def check(facts: Facts) -> Verdict:
    if facts.history is None or facts.truth is None:
        return Verdict.skip(NAME, "needs the history and Cal.com ground truth")
    violations: list[Violation] = []
    checked = 0
    # (tenant, service asked for) → {event type → the first answer that booked it}
    event_types: dict[tuple[str, str], dict[int, tuple[Operation, UpstreamBooking]]] = {}
    for (call_id, uid), ops in facts.told_booked.items():
        booking = facts.bookings_by_uid.get(uid)
        if booking is None:
            continue  # no such booking: no-lost-booking reports it
        for op in ops:
            checked += 1
            gaps = _mismatches(facts, op, booking)
            if gaps:
                violations.append(Violation(
                    kind=TOLD_MISMATCH, key=f"call {call_id} / booking {uid} (#{op.index})",
                    message=f"call {call_id} was told other than Cal.com holds: "
                            + "; ".join(gaps),
                    operations=[op], bookings=[booking],
                    appointments=list(facts.appointments_by_uid.get(uid, ())),
                    details={"mismatches": gaps},
                ))
            args = _args(op)
            service = _norm(args.get("dienstleistung"))
            if op.f == "collect" and service and booking.event_type_id is not None:
                tenant = str(args.get("to_number") or (op.request or {}).get("to_number") or "")
                event_types.setdefault((tenant, service), {}).setdefault(
                    booking.event_type_id, (op, booking))
    for (_tenant, service), seen in event_types.items():
        if len(seen) > 1:
            pairs = list(seen.values())
            violations.append(Violation(
                kind=TOLD_MISMATCH, key=f"service {service!r}",
                message=(f"callers asking for {service!r} were booked into {len(seen)} different "
                         f"Cal.com event types: " + ", ".join(str(t) for t in seen)),
                operations=[op for op, _ in pairs], bookings=[b for _, b in pairs],
                details={"event_types": sorted(seen)},
            ))
    return Verdict.of(NAME, violations, checked=checked)
