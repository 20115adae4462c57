"""`collect-appointment`: book a slot for a caller, through every duplicate-prevention layer.

The order of events, with the defense (docs/contracts.md §2.2) guarding each step:

    read + validate the request → record call and customer
    take the slot lock ........................................ slot_lock
    │  same call already holds this slot? → answer it again (an agent retry)
    │  local appointment / Cal.com slots say taken → slot_taken  availability_double_check
    │  failpoint collect.after_double_check
    │  create at Cal.com; unknown outcome → look up our own ... ambiguous_create_lookup
    │  answer too old / other call / other attendee → stale ... freshness, call_id_match,
    │                                                           attendee_match
    │  Cal.com accepted us for a host someone held first → cancel
    │  ours, slot_taken ....................................... availability_double_check
    │  failpoint collect.before_insert
    │  uid held locally? → booked (same call) / duplicate ..... uid_duplicate_check
    │  insert; a UNIQUE violation → the holder's appointment .. unique_constraint
    │  no database connection for the insert → cancel the new booking at Cal.com
    release the lock

No pooled database connection within `db_pool_timeout_s` before the create → `rate_limited` /
`database_busy` (nothing happened; the caller may try again at once).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from booking_service import defenses
from booking_service.calcom.errors import CalcomError
from booking_service.calcom.models import UpstreamBooking, iso_z
from booking_service.context import ServiceContext
from booking_service.db import DATABASE_DOWN, retry_transient
from booking_service.defenses import OwnBooking, Rejection
from booking_service.flows.answers import answer, voice_flow
from booking_service.flows.appointments import add_appointment, audit, booking_columns
from booking_service.flows.callers import (
    clean_email,
    clean_name,
    clean_phone,
    record_caller,
    same_name,
)
from booking_service.flows.refusals import OutcomeUnknown, Refusal, calcom_refusal, database_busy
from booking_service.flows.requests import RetellRequest, find_service, parse_start, resolve_tenant
from booking_service.flows.slots import (
    alternatives_for,
    before_slot_lock,
    free_slots,
    slot_lock_refusal,
    write_refusal,
)
from booking_service.flows.upstream import cancel_booking, create_booking
from booking_service.models import ACTIVE_STATUSES, Appointment
from booking_service.pii import mask_email
from booking_service.slot_lock import SlotLockUnavailable
from booking_service.tenants import CompanyInfo, ServiceInfo

log = logging.getLogger(__name__)

SUCCESS = {"booked", "confirmation_required"}
UNRECORDED_REASON = "Technischer Fehler beim Speichern des Termins"
OVERBOOKED_REASON = "Termin war bereits vergeben (Doppelbuchung)"


@dataclass(frozen=True)
class BookingRequest:
    """A validated collect-appointment request."""

    company: CompanyInfo
    branch_id: str
    service: ServiceInfo
    call_id: str
    name: str
    phone: str | None
    email: str | None
    start: datetime
    confirm: bool

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.service.duration)

    @property
    def attendee_email(self) -> str | None:
        """The caller's e-mail, else the company's fallback address (the incident's trigger)."""
        return self.email or self.company.fallback_email


def read_request(ctx: ServiceContext, body: object) -> BookingRequest:
    request = RetellRequest.parse(body)
    datum = request.required("datum")
    uhrzeit = request.required("uhrzeit")
    name = request.required("name", max_len=200)
    spoken_service = request.required("dienstleistung")
    call_id = request.call_id()
    company, branch = resolve_tenant(ctx, request)
    service = find_service(branch, spoken_service, required=True)
    start = parse_start(ctx, datum, uhrzeit)
    booking = BookingRequest(
        company=company,
        branch_id=branch.id,
        service=service,
        call_id=call_id,
        name=clean_name(name),
        phone=clean_phone(request.text("telefon", max_len=64)),
        email=clean_email(request.text("email", max_len=254)),
        start=start,
        confirm=request.flag("bestaetigung", default=True),
    )
    if booking.attendee_email is None and booking.phone is None:
        raise Refusal("missing_required_field", "telefon", field="telefon", start=start)
    return booking


async def collect_appointment(ctx: ServiceContext, body: object) -> dict[str, Any]:
    result = await voice_flow(ctx, _collect(ctx, body), success=SUCCESS)
    ctx.metrics.bookings.labels(outcome=result["status"]).inc()
    return result


async def _collect(ctx: ServiceContext, body: object) -> dict[str, Any]:
    req = read_request(ctx, body)
    if not req.confirm:
        return await _only_check(ctx, req)

    customer_id = await record_caller(
        ctx, req.call_id, req.company.id, req.branch_id, req.name, req.phone, req.email
    )
    await before_slot_lock(ctx, req.company, req.start)
    try:
        async with defenses.hold_slot(ctx, req.company.id, req.start):
            return await _book_holding_slot(ctx, req, customer_id)
    except SlotLockUnavailable as exc:
        raise await slot_lock_refusal(ctx, exc, req.company, req.service, req.start) from exc


async def _only_check(ctx: ServiceContext, req: BookingRequest) -> dict[str, Any]:
    """`bestaetigung: false`: say whether the slot is free, book nothing."""
    try:
        free = await free_slots(ctx, req.company, req.service, req.start)
    except CalcomError as exc:
        raise calcom_refusal(exc, start=req.start, read=True) from exc
    if req.start not in free:
        alternatives = await alternatives_for(ctx, req.company, req.service, req.start, free)
        raise Refusal(
            "slot_taken", "not_in_calcom_slots", start=req.start, alternatives=alternatives
        )
    return answer(ctx, "confirmation_required", success=True, start=req.start)


def create_body(ctx: ServiceContext, req: BookingRequest, idempotency_key: str) -> dict[str, Any]:
    """`POST /v2/bookings` (2024-08-13): start in UTC, the caller as attendee, our metadata."""
    attendee: dict[str, Any] = {
        "name": req.name,
        "timeZone": ctx.settings.timezone,
        "language": "de",
    }
    if req.attendee_email:
        attendee["email"] = req.attendee_email
    if req.phone:
        attendee["phoneNumber"] = req.phone
    return {
        "start": iso_z(req.start),
        "eventTypeId": req.service.event_type_id,
        "attendee": attendee,
        "metadata": {
            "call_id": req.call_id,
            "idempotency_key": idempotency_key,
            "company_id": str(req.company.id),
            "source": "voice",
        },
    }


def _booked(ctx: ServiceContext, appointment: Appointment, reason: str | None) -> dict[str, Any]:
    pending = appointment.status == "pending"
    return answer(
        ctx,
        "booked",
        success=True,
        reason=reason or ("pending_confirmation" if pending else None),
        start=appointment.start,
        pending=pending,
        appointment_id=appointment.id,
        booking_uid=appointment.calcom_booking_uid,
    )


async def _book_holding_slot(
    ctx: ServiceContext, req: BookingRequest, customer_id: int
) -> dict[str, Any]:
    held = await _check_slot_again(ctx, req)
    if isinstance(held, Appointment):  # the same call asking again for the slot it holds
        return _booked(ctx, held, "already_booked")
    if held is not None:  # Cal.com holds this call's booking from an attempt never recorded
        earlier = held
        key = str(earlier.metadata.get("idempotency_key") or uuid.uuid4().hex)
        return await retry_transient(lambda: _insert(ctx, req, customer_id, earlier, key))
    await ctx.failpoint(
        "collect.after_double_check",
        call_id=req.call_id,
        company_id=req.company.id,
        start=iso_z(req.start),
    )
    idempotency_key = uuid.uuid4().hex  # one per booking attempt of this call
    requested_at = ctx.now()
    booking = await _create_checked(ctx, req, idempotency_key, requested_at)
    await _yield_if_overbooked(ctx, req, booking, requested_at)
    await ctx.failpoint(
        "collect.before_insert",
        call_id=req.call_id,
        company_id=req.company.id,
        start=iso_z(req.start),
        booking_uid=booking.uid,
    )
    try:
        # A deadlock victim is rolled back before anything was written: run it again rather
        # than tell a caller Cal.com has booked for that nothing happened.
        return await retry_transient(
            lambda: _insert(ctx, req, customer_id, booking, idempotency_key))
    except DATABASE_DOWN as exc:
        raise await _unrecorded(ctx, req, booking) from exc


async def _check_slot_again(
    ctx: ServiceContext, req: BookingRequest
) -> Appointment | UpstreamBooking | None:
    """The appointment this call already holds for the slot; else the Cal.com booking of this
    call that holds it unrecorded (`ambiguous_create_lookup`); else None once the
    `availability_double_check` found the slot free (`slot_taken` otherwise)."""
    check = await defenses.double_check(ctx, req.company, req.service, req.start)
    async with ctx.db.read() as session:
        held = await _held_by_this_call(session, req)
        conflict = None
        if held is None and check is not None:
            conflict = await check.local_conflict(session)
    if held is not None or check is None:
        return held
    if conflict is not None:
        await _refuse_taken(ctx, req, "local_appointment")
    try:
        free = await free_slots(ctx, req.company, req.service, req.start)
    except CalcomError as exc:
        raise calcom_refusal(exc, start=req.start, read=True) from exc
    if req.start not in free:
        own = OwnBooking(req.company.calcom_list_keys, "", req.attendee_email, req.start, req.end)
        try:
            earlier = await defenses.this_calls_booking(
                ctx, own, req.call_id, req.service.event_type_id)
        except CalcomError as exc:
            raise calcom_refusal(exc, start=req.start, read=True) from exc
        if earlier is not None:
            return earlier
        await _refuse_taken(ctx, req, "calcom_slot_taken", free)
    return None


async def _create_checked(
    ctx: ServiceContext, req: BookingRequest, idempotency_key: str, requested_at: datetime
) -> UpstreamBooking:
    """Create at Cal.com once (`ambiguous_create_lookup`) and refuse an answer that is not this
    call's booking (`freshness`, `call_id_match`, `attendee_match`) → `stale_booking_data`."""
    own = OwnBooking(
        req.company.calcom_list_keys, idempotency_key, req.attendee_email, req.start, req.end
    )
    try:
        booking = await create_booking(
            ctx, req.company.calcom_api_key, create_body(ctx, req, idempotency_key), own
        )
    except (CalcomError, OutcomeUnknown) as exc:
        raise await write_refusal(ctx, exc, req.company, req.service, req.start) from exc

    def problem_with(booking: UpstreamBooking) -> Rejection | None:
        return defenses.check_returned_booking(
            ctx,
            booking,
            call_id=req.call_id,
            expected_start=req.start,
            caller_name=req.name,
            idempotency_key=idempotency_key,
            requested_at=requested_at,
        )

    problem = problem_with(booking)
    if problem is not None:
        try:
            adopted = await defenses.own_booking_after_refusal(ctx, own)
        except CalcomError as exc:
            if _may_be_ours(ctx, req, booking, idempotency_key, requested_at):
                # Refused for what it lacks (no call id, no age), and we could not look for our
                # own: it may be our booking. "Not booked" would be a lie if it is.
                raise await write_refusal(
                    ctx, OutcomeUnknown(exc), req.company, req.service, req.start) from exc
            adopted = None
        if adopted is not None:  # ours by idempotency key: the answer was corrupted, not stale
            booking = adopted
            problem = problem_with(booking)
    if problem is None:
        return booking
    problem.record(ctx.metrics)
    log.error(
        "STALE BOOKING refused by %s (%s): Cal.com answered booking %s created %s for call %s "
        "(attendee e-mail %s)",
        problem.defense,
        problem.reason,
        booking.uid,
        iso_z(booking.created_at) if booking.created_at else "unknown",
        req.call_id,
        mask_email(req.attendee_email),
    )
    alternatives = await alternatives_for(ctx, req.company, req.service, req.start)
    raise Refusal("stale_booking_data", problem.reason, start=req.start, alternatives=alternatives)


async def _yield_if_overbooked(
    ctx: ServiceContext, req: BookingRequest, booking: UpstreamBooking, requested_at: datetime
) -> None:
    """Cal.com accepted our create although someone else already held the host
    (`availability_double_check`, after the create): take ours back and tell the caller the slot
    is gone, with alternatives. If ours cannot be cancelled it stands and the caller is booked
    (a double booking the practice sees, rather than a booking nobody was told about)."""
    other = await defenses.overbooked_by(ctx, req.company, booking, requested_at)
    if other is None:
        return
    log.error(
        "OVERBOOKED: Cal.com accepted booking %s for call %s although booking %s holds host %s "
        "at %s: cancelling ours",
        booking.uid,
        req.call_id,
        other.uid,
        sorted(set(booking.host_ids) & set(other.host_ids)),
        iso_z(req.start),
    )
    try:
        await cancel_booking(ctx, req.company.calcom_api_key, booking.uid, OVERBOOKED_REASON)
    except CalcomError:
        log.error("could not cancel overbooked booking %s of call %s: it stands", booking.uid,
                  req.call_id)
        return
    Rejection("availability_double_check", "calcom_overbooked").record(ctx.metrics)
    alternatives = await alternatives_for(ctx, req.company, req.service, req.start)
    raise Refusal("slot_taken", "calcom_overbooked", start=req.start, alternatives=alternatives)


def _may_be_ours(
    ctx: ServiceContext,
    req: BookingRequest,
    booking: UpstreamBooking,
    idempotency_key: str,
    requested_at: datetime,
) -> bool:
    """Nothing in a refused answer proves it someone else's: no other call's id or attempt's
    key, made no earlier than we asked, our start and our caller's name."""
    metadata = booking.metadata
    if metadata.get("call_id") not in (None, "", req.call_id):
        return False
    if metadata.get("idempotency_key") not in (None, "", idempotency_key):
        return False
    made = booking.created_at
    if made is not None and (requested_at - made).total_seconds() > ctx.settings.clock_skew_s:
        return False
    attendee = booking.first_attendee
    return booking.start == req.start and (attendee is None or same_name(attendee.name, req.name))


async def _held_by_this_call(session: AsyncSession, req: BookingRequest) -> Appointment | None:
    """The active appointment this call already has for this slot and service, if any."""
    return (
        await session.execute(
            sa.select(Appointment)
            .where(
                Appointment.call_id == req.call_id,
                Appointment.start == req.start,
                Appointment.event_type_id == req.service.event_type_id,
                Appointment.status.in_(ACTIVE_STATUSES),
            )
            .limit(1)
        )
    ).scalar_one_or_none()


async def _unrecorded(
    ctx: ServiceContext, req: BookingRequest, booking: UpstreamBooking
) -> Refusal:
    """Cal.com booked, but no database connection came for the insert: take the booking back.

    Otherwise the caller would be told "not booked" while Cal.com holds a booking for them that
    no webhook imports (their call owns it) — a lost booking until reconciliation.
    """
    log.error(
        "no database connection to record booking %s for call %s: cancelling it at Cal.com",
        booking.uid,
        req.call_id,
    )
    try:
        await cancel_booking(ctx, req.company.calcom_api_key, booking.uid, UNRECORDED_REASON)
    except CalcomError:
        log.error(
            "could not cancel unrecorded booking %s of call %s: reconciliation will import it",
            booking.uid,
            req.call_id,
        )
        return Refusal("timeout", "booking_not_recorded", start=req.start)
    return database_busy(start=req.start)


async def _refuse_taken(
    ctx: ServiceContext, req: BookingRequest, reason: str, free: list[datetime] | None = None
) -> None:
    Rejection("availability_double_check", reason).record(ctx.metrics)
    alternatives = await alternatives_for(ctx, req.company, req.service, req.start, free)
    raise Refusal("slot_taken", reason, start=req.start, alternatives=alternatives)


async def _insert(
    ctx: ServiceContext,
    req: BookingRequest,
    customer_id: int,
    booking: UpstreamBooking,
    idempotency_key: str,
) -> dict[str, Any]:
    try:
        async with ctx.db.write() as session:
            holder = await defenses.uid_already_held(ctx, session, booking.uid)
            if holder is not None:
                if holder.call_id == req.call_id:
                    return _booked(ctx, holder, "already_booked")
                Rejection("uid_duplicate_check", "booking_uid_exists").record(ctx.metrics)
                log.error(
                    "DUPLICATE BOOKING UID: Cal.com answered booking %s for call %s, but appointment %s "
                    "already holds it",
                    booking.uid,
                    req.call_id,
                    holder.id,
                )
                raise Refusal("duplicate", "booking_uid_exists", start=req.start)
            appointment = await add_appointment(
                session,
                ctx,
                company_id=req.company.id,
                branch_id=req.branch_id,
                customer_id=customer_id,
                call_id=req.call_id,
                service_id=req.service.id,
                source="voice",
                idempotency_key=idempotency_key,
                **booking_columns(booking, event_type_id=req.service.event_type_id, host_id=None),
            )
            audit(
                session,
                ctx,
                appointment.id,
                "created",
                "voice",
                detail={"booking_uid": booking.uid},
            )
        return _booked(ctx, appointment, None)
    except sa.exc.IntegrityError:
        # The UNIQUE index caught it. Like the incident's fix, answer with the appointment that
        # already holds the booking instead of failing.
        holder = await defenses.uid_holder(ctx, booking.uid)
        if holder is None:
            raise
        log.error(
            "UNIQUE violation on booking %s: returning existing appointment %s",
            booking.uid,
            holder.id,
        )
        return _booked(ctx, holder, "existing_appointment_returned")
