"""Reconciliation: compare local appointments with Cal.com's bookings and report (or repair) drift.

* `missing`    — active at Cal.com, no local appointment (a lost booking, a dropped webhook)
* `orphans`    — active locally, gone or cancelled at Cal.com (a missed cancellation)
* `mismatches` — both exist but the start, the attendee or the status differ

`repair` imports the missing ones (linked to their call when `metadata.call_id` names a call this
service knows, which recovers bookings whose voice flow died after Cal.com said yes) and cancels
orphans locally. Imports check the uid, then insert without the slot lock; the UNIQUE index
stops a concurrent webhook import of the same booking (docs/contracts.md §2.7).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from booking_service.calcom.errors import CircuitOpenError
from booking_service.calcom.models import UpstreamBooking, iso_z
from booking_service.context import ServiceContext
from booking_service.defenses import Rejection
from booking_service.flows.appointments import cancel_locally
from booking_service.flows.callers import same_name
from booking_service.flows.imports import ForeignBooking, insert_imported, known_call
from booking_service.models import ACTIVE_STATUSES, Appointment, Customer
from booking_service.tenants import CompanyInfo, ServiceInfo

log = logging.getLogger(__name__)

DEFAULT_PAST = timedelta(days=1)
DEFAULT_FUTURE = timedelta(days=90)

#: How often a reconciliation waits for an open circuit's next probe before giving up; a probe
#: already in flight (another request's) is waited for this long.
CIRCUIT_WAITS = 3
PROBE_IN_FLIGHT_WAIT_S = 0.2

T = TypeVar("T")


async def through_circuit(ctx: ServiceContext, call: Callable[[], Awaitable[T]]) -> T:
    """Run a Cal.com read, waiting out an open circuit instead of refusing at once.

    A reconciliation is the repair after an outage: refused because the breaker still remembers
    the outage, it would leave the drift it exists to mend until someone tries again. It waits
    (on the service clock) until the breaker lets a probe through — at most `circuit_open_s`
    each time — and the read itself is that probe: Cal.com healthy again closes the circuit,
    Cal.com still failing opens it again and, after `CIRCUIT_WAITS` tries, the refusal stands.
    """
    for attempt in range(CIRCUIT_WAITS + 1):
        try:
            return await call()
        except CircuitOpenError as exc:
            if attempt == CIRCUIT_WAITS:
                raise
            wait = min(max(exc.retry_in_s, PROBE_IN_FLIGHT_WAIT_S), ctx.settings.circuit_open_s)
            log.info("reconcile waits %.1f s for the Cal.com circuit's next probe", wait)
            await ctx.clock.sleep(wait)
    raise AssertionError("unreachable")


@dataclass
class ReconcileReport:
    orphans: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    repaired: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "orphans": self.orphans,
            "missing": self.missing,
            "mismatches": self.mismatches,
            "repaired": self.repaired,
        }


def _foreign(booking: UpstreamBooking) -> ForeignBooking:
    attendee = booking.first_attendee
    call_id = booking.metadata.get("call_id")
    return ForeignBooking(
        uid=booking.uid,
        status="pending" if booking.status == "pending" else "scheduled",
        start=booking.start,
        end=booking.end,
        event_type_id=booking.event_type_id,
        host_id=booking.host_ids[0] if booking.host_ids else None,
        attendee_name=attendee.name if attendee else "",
        attendee_email=attendee.email if attendee else None,
        attendee_phone=attendee.phone if attendee else None,
        call_id=str(call_id) if call_id not in (None, "") else None,
        updated_at=booking.updated_at,
        details=booking.details(),
    )


async def reconcile(
    ctx: ServiceContext,
    company: CompanyInfo | None = None,
    /,
    *,
    repair: bool = False,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> ReconcileReport:
    """Reconcile one company (or all) over [window_start, window_end) (default: -1 day … +90 days)."""
    now = ctx.now()
    start = window_start or now - DEFAULT_PAST
    end = window_end or now + DEFAULT_FUTURE
    report = ReconcileReport()
    for target in [company] if company else ctx.tenants.companies:
        await _reconcile_company(ctx, target, start, end, repair, report)
    for kind in ("orphans", "missing", "mismatches"):
        count = len(getattr(report, kind))
        if count:
            ctx.metrics.reconcile_findings.labels(kind=kind).inc(count)
    return report


async def _reconcile_company(
    ctx: ServiceContext,
    company: CompanyInfo,
    start: datetime,
    end: datetime,
    repair: bool,
    report: ReconcileReport,
) -> None:
    services = {s.event_type_id: s for s in reversed(company.services)}
    upstream: dict[str, UpstreamBooking] = {}
    for key in company.calcom_list_keys:  # each key shows only its owner's bookings
        listed = await through_circuit(ctx, functools.partial(
            ctx.calcom.list_bookings, key, after_start=start, before_end=end,
            page_size=ctx.settings.calcom_list_page_size))
        upstream.update((b.uid, b) for b in listed if b.event_type_id in services)
    rows, missing = await _local_view(ctx, company, start, end, upstream)
    for booking in missing:
        await _missing(ctx, company, services, booking, repair, report)
    for appointment, customer in rows:
        await _compare(ctx, company, appointment, customer, upstream, repair, report)


async def _local_view(
    ctx: ServiceContext,
    company: CompanyInfo,
    start: datetime,
    end: datetime,
    upstream: dict[str, UpstreamBooking],
) -> tuple[list[tuple[Appointment, Customer | None]], list[UpstreamBooking]]:
    """The company's appointments in the window (with their customers), and the active upstream
    bookings no appointment holds."""
    async with ctx.db.read() as session:
        rows: list[tuple[Appointment, Customer | None]] = [
            (appointment, customer)
            for appointment, customer in (
                await session.execute(
                    sa.select(Appointment, Customer)
                    .outerjoin(Customer, Customer.id == Appointment.customer_id)
                    .where(
                        Appointment.company_id == company.id,
                        Appointment.start >= start,
                        Appointment.start < end,
                    )
                    .order_by(Appointment.id)
                )
            ).all()
        ]
        local_uids = {a.calcom_booking_uid for a, _ in rows if a.calcom_booking_uid}
        unseen = [uid for uid, b in upstream.items() if b.active and uid not in local_uids]
        # A booking may be held by an appointment outside the window (or of another company).
        held_elsewhere = set()
        if unseen:
            held_elsewhere = set(
                (
                    await session.execute(
                        sa.select(Appointment.calcom_booking_uid).where(
                            Appointment.calcom_booking_uid.in_(unseen)
                        )
                    )
                ).scalars()
            )
    return rows, [upstream[uid] for uid in unseen if uid not in held_elsewhere]


async def _missing(
    ctx: ServiceContext,
    company: CompanyInfo,
    services: dict[int, ServiceInfo],
    booking: UpstreamBooking,
    repair: bool,
    report: ReconcileReport,
) -> None:
    report.missing.append(
        {
            "booking_uid": booking.uid,
            "start": iso_z(booking.start),
            "event_type_id": booking.event_type_id,
            "status": booking.status,
            "call_id": booking.metadata.get("call_id"),
        }
    )
    # Listed only for the company's event types, so the service is known.
    service = services.get(booking.event_type_id) if booking.event_type_id is not None else None
    if repair and service is not None and await _import_missing(ctx, company, service, booking):
        report.repaired += 1


async def _compare(
    ctx: ServiceContext,
    company: CompanyInfo,
    appointment: Appointment,
    customer: Customer | None,
    upstream: dict[str, UpstreamBooking],
    repair: bool,
    report: ReconcileReport,
) -> None:
    """An appointment against its booking: an orphan (repaired: cancelled locally) or a mismatch."""
    uid = appointment.calcom_booking_uid
    local_active = appointment.status in ACTIVE_STATUSES
    booking = upstream.get(uid) if uid else None
    if booking is None and uid and local_active:
        # Not in the list (maybe not visible to this key, or moved): ask for it directly.
        booking = await through_circuit(
            ctx, functools.partial(ctx.calcom.get_booking, company.calcom_api_key, uid))
    if local_active and (booking is None or not booking.active):
        reason = (
            "no_booking_uid"
            if not uid
            else ("missing_upstream" if booking is None else "cancelled_upstream")
        )
        report.orphans.append(
            {
                "appointment_id": appointment.id,
                "booking_uid": uid,
                "start": iso_z(appointment.start),
                "reason": reason,
            }
        )
        if repair and await _cancel_orphan(ctx, appointment.id, reason):
            report.repaired += 1
        return
    if booking is None:
        return
    differences: dict[str, Any] = {}
    if booking.start != appointment.start:
        differences["start"] = {
            "local": iso_z(appointment.start),
            "upstream": iso_z(booking.start),
        }
    attendee = booking.first_attendee
    if customer is not None and attendee is not None and not same_name(customer.name, attendee.name):
        differences["attendee"] = {"local": customer.name, "upstream": attendee.name}
    if not local_active and booking.active and appointment.status == "cancelled":
        differences["status"] = {"local": appointment.status, "upstream": booking.status}
    if differences:
        report.mismatches.append(
            {"appointment_id": appointment.id, "booking_uid": uid, "fields": differences}
        )


async def _import_missing(
    ctx: ServiceContext, company: CompanyInfo, service: ServiceInfo, booking: UpstreamBooking
) -> bool:
    foreign = _foreign(booking)
    async with ctx.db.read() as session:
        call = await known_call(session, foreign.call_id)
        if call is not None and call.company_id != company.id:
            call = None
    await ctx.failpoint("reconcile.before_insert", booking_uid=booking.uid)
    try:
        async with ctx.db.write() as session:
            await insert_imported(
                session, ctx, foreign, company, service, source="reconcile", call=call
            )
    except sa.exc.IntegrityError:
        Rejection("unique_constraint", "concurrent_import").record(ctx.metrics)
        log.info("reconcile: booking %s was imported by someone else meanwhile", booking.uid)
        return False
    log.warning(
        "reconcile: imported missing booking %s%s",
        booking.uid,
        " (linked to its call)" if call else "",
    )
    return True


async def _cancel_orphan(ctx: ServiceContext, appointment_id: int, reason: str) -> bool:
    if not await cancel_locally(ctx, appointment_id, "reconcile", {"reason": reason}):
        return False
    log.warning("reconcile: cancelled orphan appointment %s (%s)", appointment_id, reason)
    return True
