"""Hand-made worlds for the checker tests: a history, the service's view and Cal.com's truth.

A test writes what happened in domain terms (a caller booked, an outside booker took a slot, a
webhook was applied) and runs one checker on it. Times come from a counter, so every history is
the same on every run.
"""

from __future__ import annotations

import itertools
from typing import Any

from harness.checks import (
    Appointment,
    AuditEntry,
    CheckOptions,
    GroundTruth,
    ProcessedWebhook,
    ServiceView,
    UpstreamBooking,
    Verdict,
    WebhookDelivery,
    run,
)
from harness.history import History, HistoryRecorder, Operation

S1 = "2025-10-10T08:00:00Z"
S1_MS = "2025-10-10T08:00:00.000Z"
S1_END = "2025-10-10T08:30:00.000Z"
S2 = "2025-10-10T08:30:00Z"
S2_END = "2025-10-10T09:00:00.000Z"


def end_of(start: str, minutes: int = 30) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(start) + timedelta(minutes=minutes)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")


class World:
    def __init__(self) -> None:
        ticks = itertools.count(1_000)
        self.rec = HistoryRecorder(clock=lambda: next(ticks))
        self.bookings: list[UpstreamBooking] = []
        self.appointments: list[Appointment] = []
        self.audit: list[AuditEntry] | None = None
        self.processed: list[ProcessedWebhook] | None = None
        self.deliveries: list[WebhookDelivery] | None = None
        self._ids = itertools.count(1)

    # -- Cal.com ---------------------------------------------------------------------------

    def booking(self, uid: str, start: str = S1_MS, *, call_id: str | None = None,
                hosts: tuple[int, ...] = (101,), origin: str = "api", status: str = "accepted",
                end: str | None = None, attendee: str = "Hans Schuster",
                rescheduled_from: str | None = None, owner: int | None = 101,
                created_at: str = "2025-10-06T09:05:21.002Z") -> UpstreamBooking:
        b = UpstreamBooking(
            uid=uid, status=status, start=start, end=end or end_of(start), host_ids=hosts,
            call_id=call_id, origin=origin, api_key_owner=owner if origin == "api" else None,
            attendee_name=attendee, attendee_email="termin@praxis-berlin.example",
            created_at=created_at, rescheduled_from_uid=rescheduled_from,
        )
        self.bookings.append(b)
        return b

    def delivery(self, body_sha256: str, *, trigger: str = "BOOKING_CREATED", copy: int = 1,
                 signature_valid: bool = True, uid: str | None = None) -> WebhookDelivery:
        if self.deliveries is None:
            self.deliveries = []
        d = WebhookDelivery(seq=len(self.deliveries) + 1, trigger_event=trigger, booking_uid=uid,
                            body_sha256=body_sha256, outcome="sent", http_status=200, copy=copy,
                            signature_valid=signature_valid)
        self.deliveries.append(d)
        return d

    # -- service -----------------------------------------------------------------------------

    def appointment(self, uid: str | None, start: str = S1, *, call_id: str | None = None,
                    host: int | None = 101, status: str = "scheduled", company: int = 1,
                    customer: str | None = "Hans Schuster", customer_id: int | None = None,
                    source: str = "voice", end: str | None = None,
                    id: int | None = None) -> Appointment:
        a = Appointment(
            id=id if id is not None else next(self._ids), company_id=company, call_id=call_id,
            booking_uid=uid, status=status, start=start, end=end or end_of(start), host_id=host,
            event_type_id=2001, customer_id=customer_id, customer_name=customer, source=source,
        )
        self.appointments.append(a)
        return a

    def audit_row(self, appointment_id: int | None, action: str, delivery_key: str | None,
                  source: str = "webhook") -> AuditEntry:
        if self.audit is None:
            self.audit = []
        row = AuditEntry(appointment_id=appointment_id, action=action, source=source,
                         delivery_key=delivery_key)
        self.audit.append(row)
        return row

    def processed_webhook(self, key: str) -> None:
        if self.processed is None:
            self.processed = []
        self.processed.append(ProcessedWebhook(delivery_key=key))

    # -- history -----------------------------------------------------------------------------

    def op(self, f: str, *, call_id: str | None = None, slot: str | None = None,
           request: Any = None, outcome: str | None = "ok", answer: Any = None,
           process: str | None = None) -> Operation:
        pending = self.rec.invoke(process or f"p-{call_id or f}", f, call_id, slot, request)
        if outcome is not None:
            pending.complete(outcome, answer)  # type: ignore[arg-type]
        return Operation(pending.invoke, pending.completion)

    def collect(self, call_id: str, slot: str = S1, *, status: str = "booked",
                uid: str | None = None, outcome: str | None = None,
                bestaetigung: bool | None = None) -> Operation:
        """A caller asks to book; the service answers ``status`` (classified unless given)."""
        from harness.history import classify_answer

        args: dict[str, Any] = {"datum": "10.10.2025", "uhrzeit": "10:00", "name": "Hans Schuster",
                                "dienstleistung": "Beratung", "call_id": call_id}
        if bestaetigung is not None:
            args["bestaetigung"] = bestaetigung
        answer = {"success": status in ("booked", "confirmation_required"), "status": status,
                  "booking_uid": uid, "start": slot, "alternatives": []}
        if outcome is None:
            outcome = classify_answer("collect", answer)
        if outcome == "info" and status == "booked":
            answer = None
        return self.op("collect", call_id=call_id, slot=slot, request=args, outcome=outcome,
                       answer=answer)

    # -- running -----------------------------------------------------------------------------

    def history(self) -> History:
        return self.rec.history()

    def service(self) -> ServiceView:
        return ServiceView(list(self.appointments), self.audit, self.processed)

    def truth(self) -> GroundTruth:
        return GroundTruth(list(self.bookings), self.deliveries)

    @staticmethod
    def kinds(verdict: Verdict) -> list[str]:
        return [v.kind for v in verdict.violations]

    def check(self, name: str, *, options: CheckOptions | None = None,
              history: bool = True, service: bool = True, truth: bool = True) -> Verdict:
        return run(name, self.history() if history else None,
                   self.service() if service else None,
                   self.truth() if truth else None, options)
