"""What a checker returns: a verdict, and for each broken invariant a violation with evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.checks.inputs import Appointment, UpstreamBooking
from harness.history import Operation

# Incident kinds a violation names (stable strings: reports and scenarios match on them).
DOUBLE_BOOKING = "double-booking"              # two active bookings/appointments hold one host slot
DUPLICATE_APPOINTMENT = "duplicate-appointment"  # two local appointments for one booking uid
STOLEN_BOOKING = "stolen-booking"              # a caller holds a booking made for someone else
LOST_BOOKING = "lost-booking"                  # told booked without a booking, or booked untold
DUPLICATE_BOOKING = "duplicate-booking"        # one call got two upstream bookings for one slot
PHANTOM_BOOKING = "phantom-booking"            # the service booked what no operation asked for
WEBHOOK_APPLIED_TWICE = "webhook-applied-twice"
WEBHOOK_FORGERY_APPLIED = "webhook-forgery-applied"  # a delivery Cal.com never signed took effect
TENANT_LEAK = "tenant-leak"
DRIFT = "drift"                                # service DB and Cal.com disagree
TOLD_MISMATCH = "told-mismatch"                # the caller was told other than Cal.com holds
SECOND_UPSTREAM_BOOKING = "second-upstream-booking"  # one call left two active bookings
UNCLEAR_ANSWER = "unclear-answer"              # a 5xx, a traceback or a malformed answer

KINDS: tuple[str, ...] = (
    DOUBLE_BOOKING, DUPLICATE_APPOINTMENT, STOLEN_BOOKING, LOST_BOOKING, DUPLICATE_BOOKING,
    PHANTOM_BOOKING, WEBHOOK_APPLIED_TWICE, WEBHOOK_FORGERY_APPLIED, TENANT_LEAK, DRIFT,
    TOLD_MISMATCH, SECOND_UPSTREAM_BOOKING, UNCLEAR_ANSWER,
)

#: At most this many operations are attached to one violation as evidence.
MAX_EVIDENCE_OPERATIONS = 20


# One-line descriptions of evidence (from its JSON form), shared by assertion messages and reports.


def op_line(op: dict[str, Any]) -> str:
    """``#12 w0:caller-3 collect call_ab12 @ 2025-10-20T12:00:00Z → ok booked (u1)``."""
    answer = op.get("answer")
    outcome = op.get("type", "?")
    if isinstance(answer, dict):
        status = answer.get("status") or answer.get("error")
        uid = answer.get("booking_uid")
        if status:
            outcome += f" {status}"
        if uid:
            outcome += f" ({uid})"
    where = f" @ {op['slot']}" if op.get("slot") else ""
    call = f" {op['call_id']}" if op.get("call_id") else ""
    return f"#{op.get('index')} {op.get('process')} {op.get('f')}{call}{where} → {outcome}"


def booking_line(b: dict[str, Any]) -> str:
    """``Cal.com booking u1 accepted <start> hosts [101] made for call X, attendee …``."""
    made_for = ("outside booker" if b.get("origin") != "api"
                else f"call {b.get('call_id')}" if b.get("call_id") else "no call")
    attendee = (b.get("attendee") or {}).get("name")
    return (f"Cal.com booking {b.get('uid')} {b.get('status')} {b.get('start')} hosts "
            f"{b.get('hostIds')} made for {made_for}"
            + (f", attendee {attendee}" if attendee else "")
            + (f", created {b['createdAt']}" if b.get("createdAt") else ""))


def appointment_line(a: dict[str, Any]) -> str:
    """``appointment 17 scheduled <start> host 101 call X booking u1 (source voice, …)``."""
    customer = (a.get("customer") or {}).get("name")
    return (f"appointment {a.get('id')} {a.get('status')} {a.get('start')} host {a.get('host_id')}"
            f" call {a.get('call_id')} booking {a.get('booking_uid')} (source {a.get('source')}"
            + (f", customer {customer}" if customer else "") + ")")


@dataclass(slots=True)
class Violation:
    """One broken invariant at one key (slot, call, uid, delivery, read)."""

    kind: str
    key: str
    message: str
    operations: list[Operation] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    bookings: list[UpstreamBooking] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {
            "kind": self.kind, "key": self.key, "message": self.message,
            "operations": [op.to_json() for op in self.operations[:MAX_EVIDENCE_OPERATIONS]],
            "appointments": [a.to_json() for a in self.appointments],
            "bookings": [b.to_json() for b in self.bookings],
            "details": self.details,
        }
        # The evidence as one line each, so a report shows it without knowing its shapes.
        data["evidence"] = evidence_lines(data)
        return data

    def explain(self) -> str:
        """The violation and its evidence, one line each (for assertion messages and logs)."""
        data = self.to_json()
        return "\n".join([f"[{self.kind}] {self.key}: {self.message}",
                          *(f"    {line}" for line in data["evidence"])])


def evidence_lines(violation: dict[str, Any]) -> list[str]:
    """A violation's operations, bookings and appointments (JSON form), one line each."""
    return ([f"op {op_line(op)}" for op in violation.get("operations", ())]
            + [booking_line(b) for b in violation.get("bookings", ())]
            + [appointment_line(a) for a in violation.get("appointments", ())])


@dataclass(slots=True)
class Verdict:
    """A checker's answer. ``skipped`` says why it could not run (then ``ok`` is True)."""

    name: str
    ok: bool
    violations: list[Violation] = field(default_factory=list)
    checked: int = 0
    skipped: str | None = None

    @classmethod
    def of(cls, name: str, violations: list[Violation], checked: int) -> Verdict:
        return cls(name, not violations, violations, checked)

    @classmethod
    def skip(cls, name: str, reason: str) -> Verdict:
        return cls(name, True, [], 0, reason)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "checked": self.checked,
                "skipped": self.skipped, "violations": [v.to_json() for v in self.violations]}

    def __str__(self) -> str:
        """A summary with the evidence of the first ten violations."""
        if self.skipped:
            return f"{self.name}: skipped ({self.skipped})"
        if self.ok:
            return f"{self.name}: ok ({self.checked} checked)"
        lines = [f"{self.name}: {len(self.violations)} violation(s)"]
        lines += ["  " + v.explain() for v in self.violations[:10]]
        if len(self.violations) > 10:
            lines.append(f"  … and {len(self.violations) - 10} more")
        return "\n".join(lines)
