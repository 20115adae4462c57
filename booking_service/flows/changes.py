"""`cancel-appointment` and `reschedule-appointment`: change a caller's booking, Cal.com first.

A caller may only change an appointment this call made, or one whose customer matches the name
or phone number they give; the appointment is always looked up inside the called company.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from booking_service import defenses
from booking_service.calcom.errors import CalcomError
from booking_service.calcom.models import UpstreamBooking
from booking_service.context import ServiceContext
from booking_service.db import DATABASE_DOWN
from booking_service.defenses import Rejection
from booking_service.flows.answers import answer, voice_flow
from booking_service.flows.appointments import (
    add_appointment,
    audit,
    booking_columns,
    cancel_locally,
)
from booking_service.flows.callers import clean_phone, same_name
from booking_service.flows.refusals import (
    OutcomeUnknown,
    Refusal,
    calcom_refusal,
    unrecorded_change,
)
from booking_service.flows.requests import RetellRequest, parse_start, resolve_tenant
from booking_service.flows.slots import (
    alternatives_for,
    before_slot_lock,
    free_slots,
    slot_lock_refusal,
    write_refusal,
)
from booking_service.flows.upstream import cancel_booking, reschedule_booking
from booking_service.german_datetime import DateTimeParseError, parse_local_datetime
from booking_service.models import ACTIVE_STATUSES, Appointment, Customer
from booking_service.slot_lock import SlotLockUnavailable
from booking_service.tenants import CompanyInfo, ServiceInfo

log = logging.getLogger(__name__)

DEFAULT_CANCEL_REASON = "Vom Anrufer telefonisch abgesagt"
DEFAULT_RESCHEDULE_REASON = "Vom Anrufer telefonisch verschoben"


# --- finding the caller's appointment --------------------------------------------------------


def _is_callers(
    appointment: Appointment,
    customer: Customer | None,
    call_id: str,
    name: str | None,
    phone: str | None,
) -> bool:
    if appointment.call_id == call_id:
        return True
    if customer is None:
        return False
    if phone and customer.phone == phone:
        return True
    return bool(name and same_name(customer.name, name))


async def find_callers_appointment(
    ctx: ServiceContext, request: RetellRequest, company: CompanyInfo, call_id: str
) -> tuple[Appointment, Customer | None]:
    """By `appointment_id`, else by `datum` + `uhrzeit`; refuses what is not the caller's."""
    name = request.text("name", max_len=200)
    phone = clean_phone(request.text("telefon", max_len=64))
    raw_id = request.args.get("appointment_id")
    async with ctx.db.read() as session:
        if raw_id is not None and str(raw_id).strip():
            try:
                appointment_id = int(str(raw_id).strip())
            except ValueError as exc:
                raise Refusal("not_found", "unknown_appointment_id") from exc
            row = (
                await session.execute(
                    sa.select(Appointment, Customer)
                    .outerjoin(Customer, Customer.id == Appointment.customer_id)
                    .where(Appointment.id == appointment_id, Appointment.company_id == company.id)
                )
            ).first()
            if row is None or not _is_callers(row[0], row[1], call_id, name, phone):
                raise Refusal("not_found", "unknown_appointment_id")
            return row[0], row[1]
        datum = request.text("datum")
        uhrzeit = request.text("uhrzeit")
        if datum is None:
            raise Refusal("missing_required_field", "appointment_id", field="appointment")
        if uhrzeit is None:
            raise Refusal("missing_required_field", "uhrzeit", field="uhrzeit")
        try:
            start = parse_local_datetime(datum, uhrzeit, ctx.now(), ctx.settings.timezone)
        except DateTimeParseError as exc:
            raise Refusal(exc.kind, exc.kind) from exc
        rows = (
            await session.execute(
                sa.select(Appointment, Customer)
                .outerjoin(Customer, Customer.id == Appointment.customer_id)
                .where(Appointment.company_id == company.id, Appointment.start == start)
                .order_by(Appointment.id)
            )
        ).all()
    mine = [(a, c) for a, c in rows if _is_callers(a, c, call_id, name, phone)]
    if not mine:
        raise Refusal("not_found", "no_matching_appointment", start=start)
    active = [(a, c) for a, c in mine if a.status in ACTIVE_STATUSES]
    candidates = active or mine
    if len(candidates) > 1:
        same_call = [(a, c) for a, c in candidates if a.call_id == call_id]
        if len(same_call) != 1:
            raise Refusal("missing_required_field", "name", field="name", start=start)
        candidates = same_call
    return candidates[0]


def _service_of(company: CompanyInfo, appointment: Appointment) -> ServiceInfo | None:
    for service in company.services:
        if service.id == appointment.service_id:
            return service
    for service in company.services:
        if service.event_type_id == appointment.event_type_id:
            return service
    return None


# --- cancel ----------------------------------------------------------------------------------


async def cancel_appointment(ctx: ServiceContext, body: object) -> dict[str, Any]:
    return await voice_flow(ctx, _cancel(ctx, body))


async def _cancel(ctx: ServiceContext, body: object) -> dict[str, Any]:
    request = RetellRequest.parse(body)
    call_id = request.call_id()
    company, _branch = resolve_tenant(ctx, request)
    appointment, _customer = await find_callers_appointment(ctx, request, company, call_id)
    if appointment.status == "cancelled":
        return answer(
            ctx,
            "already_cancelled",
            success=True,
            start=appointment.start,
            appointment_id=appointment.id,
        )
    if appointment.status == "rescheduled":
        raise Refusal("not_found", "appointment_was_rescheduled", start=appointment.start)
    reason = request.text("grund") or DEFAULT_CANCEL_REASON
    await ctx.failpoint("cancel.before_upstream", appointment_id=appointment.id, call_id=call_id)
    if appointment.calcom_booking_uid:
        try:
            await cancel_booking(
                ctx, company.calcom_api_key, appointment.calcom_booking_uid, reason
            )
        except CalcomError as exc:
            raise calcom_refusal(exc, start=appointment.start) from exc
    try:
        await cancel_locally(ctx, appointment.id, "voice", {"call_id": call_id})
    except DATABASE_DOWN as exc:
        raise unrecorded_change(appointment.start) from exc
    return answer(
        ctx, "cancelled", success=True, start=appointment.start, appointment_id=appointment.id
    )


# --- reschedule ------------------------------------------------------------------------------


async def reschedule_appointment(ctx: ServiceContext, body: object) -> dict[str, Any]:
    return await voice_flow(ctx, _reschedule(ctx, body))


async def _reschedule(ctx: ServiceContext, body: object) -> dict[str, Any]:
    request = RetellRequest.parse(body)
    call_id = request.call_id()
    new_datum = request.required("neues_datum")
    new_uhrzeit = request.required("neue_uhrzeit")
    company, _branch = resolve_tenant(ctx, request)
    appointment, customer = await find_callers_appointment(ctx, request, company, call_id)
    new_start = parse_start(ctx, new_datum, new_uhrzeit)
    if appointment.status == "cancelled":
        return answer(
            ctx,
            "already_cancelled",
            success=False,
            start=appointment.start,
            appointment_id=appointment.id,
        )
    if appointment.status not in ACTIVE_STATUSES or not appointment.calcom_booking_uid:
        raise Refusal("not_found", "appointment_not_active", start=appointment.start)
    service = _service_of(company, appointment)
    if service is None:
        raise Refusal("unknown_service", "service_removed", start=new_start)
    if new_start == appointment.start:
        return _rescheduled(ctx, appointment, "unchanged")
    await before_slot_lock(ctx, company, new_start)
    try:
        async with defenses.hold_slot(ctx, company.id, new_start):
            return await _reschedule_holding_slot(
                ctx, request, company, service, appointment, customer, new_start
            )
    except SlotLockUnavailable as exc:
        raise await slot_lock_refusal(ctx, exc, company, service, new_start) from exc


def _rescheduled(
    ctx: ServiceContext, appointment: Appointment, reason: str | None
) -> dict[str, Any]:
    return answer(
        ctx,
        "rescheduled",
        success=True,
        reason=reason,
        start=appointment.start,
        appointment_id=appointment.id,
        booking_uid=appointment.calcom_booking_uid,
    )


async def _reschedule_holding_slot(
    ctx: ServiceContext,
    request: RetellRequest,
    company: CompanyInfo,
    service: ServiceInfo,
    appointment: Appointment,
    customer: Customer | None,
    new_start: datetime,
) -> dict[str, Any]:
    await _check_new_slot(ctx, company, service, appointment, new_start)
    assert appointment.calcom_booking_uid is not None
    try:
        booking = await reschedule_booking(
            ctx,
            company.calcom_api_key,
            appointment.calcom_booking_uid,
            new_start,
            request.text("grund") or DEFAULT_RESCHEDULE_REASON,
        )
    except (CalcomError, OutcomeUnknown) as exc:
        raise await write_refusal(ctx, exc, company, service, new_start) from exc

    problem = defenses.check_returned_booking(
        ctx,
        booking,
        call_id=appointment.call_id,
        expected_start=new_start,
        caller_name=customer.name
        if customer
        else (booking.first_attendee.name if booking.first_attendee else ""),
        idempotency_key=appointment.idempotency_key,
    )
    if problem is not None:
        problem.record(ctx.metrics)
        log.error(
            "STALE BOOKING on reschedule refused by %s (%s): booking %s",
            problem.defense,
            problem.reason,
            booking.uid,
        )
        raise Refusal("stale_booking_data", problem.reason, start=new_start)
    try:
        return await _apply_reschedule(ctx, appointment, booking)
    except DATABASE_DOWN as exc:
        raise unrecorded_change(new_start) from exc


async def _check_new_slot(
    ctx: ServiceContext,
    company: CompanyInfo,
    service: ServiceInfo,
    appointment: Appointment,
    new_start: datetime,
) -> None:
    """The `availability_double_check` for the new slot (the appointment moving is no conflict):
    `slot_taken` with alternatives when it is gone."""
    check = await defenses.double_check(
        ctx, company, service, new_start, exclude_id=appointment.id
    )
    if check is None:
        return
    async with ctx.db.read() as session:
        conflict = await check.local_conflict(session)
    try:
        free = [] if conflict is not None else await free_slots(ctx, company, service, new_start)
    except CalcomError as exc:
        raise calcom_refusal(exc, start=new_start) from exc
    if conflict is not None or new_start not in free:
        reason = "local_appointment" if conflict is not None else "calcom_slot_taken"
        Rejection("availability_double_check", reason).record(ctx.metrics)
        alternatives = await alternatives_for(ctx, company, service, new_start, free)
        raise Refusal("slot_taken", reason, start=new_start, alternatives=alternatives)


async def _apply_reschedule(
    ctx: ServiceContext, old: Appointment, booking: UpstreamBooking
) -> dict[str, Any]:
    try:
        async with ctx.db.write() as session:
            current = await session.get(Appointment, old.id, with_for_update=True)
            assert current is not None
            holder = await defenses.uid_already_held(ctx, session, booking.uid)
            if holder is not None:
                if holder.call_id == old.call_id and holder.customer_id == old.customer_id:
                    if current.status in ACTIVE_STATUSES:
                        current.status = "rescheduled"
                        current.updated_at = ctx.now()
                    return _rescheduled(ctx, holder, "already_rescheduled")
                Rejection("uid_duplicate_check", "booking_uid_exists").record(ctx.metrics)
                raise Refusal("duplicate", "booking_uid_exists", start=booking.start)
            new = await add_appointment(
                session,
                ctx,
                company_id=old.company_id,
                branch_id=old.branch_id,
                customer_id=old.customer_id,
                call_id=old.call_id,
                service_id=old.service_id,
                source=old.source,
                idempotency_key=old.idempotency_key,
                **booking_columns(booking, event_type_id=old.event_type_id, host_id=old.host_id),
            )
            previous = current.status
            current.status = "rescheduled"
            current.updated_at = new.created_at
            audit(
                session,
                ctx,
                current.id,
                "rescheduled",
                "voice",
                detail={"from": previous, "to_appointment": new.id, "to_uid": booking.uid},
            )
            audit(
                session,
                ctx,
                new.id,
                "created",
                "voice",
                detail={"booking_uid": booking.uid, "rescheduled_from": old.id},
            )
        return _rescheduled(ctx, new, None)
    except sa.exc.IntegrityError:
        holder = await defenses.uid_holder(ctx, booking.uid)
        if holder is None:
            raise
        return _rescheduled(ctx, holder, "existing_appointment_returned")
