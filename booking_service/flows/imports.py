"""Turning a Cal.com booking this service did not make into a local appointment.

Shared by the webhook receiver and reconciliation. Both check the uid, then insert without the
slot lock (docs/contracts.md §2.7): when the two race for the same booking, the UNIQUE index on
`appointments.calcom_booking_uid` is what keeps it to one appointment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from booking_service.context import ServiceContext
from booking_service.flows.appointments import add_appointment, audit
from booking_service.flows.callers import ensure_customer, same_name
from booking_service.models import Appointment, Call, Customer
from booking_service.tenants import CompanyInfo, ServiceInfo, normalize_phone


@dataclass(frozen=True)
class ForeignBooking:
    """What an import needs to know about a booking, from a webhook payload or the API."""

    uid: str
    status: str  # appointment status: scheduled | pending | cancelled
    start: datetime
    end: datetime
    event_type_id: int | None
    host_id: int | None
    attendee_name: str
    attendee_email: str | None
    attendee_phone: str | None
    call_id: str | None  # metadata.call_id, if any
    updated_at: datetime | None
    details: dict[str, Any]


def service_for(
    ctx: ServiceContext, event_type_id: int | None
) -> tuple[CompanyInfo, ServiceInfo] | None:
    """The tenant service booked through this event type (the first, if several share it)."""
    for service in ctx.tenants.services_for_event_type(event_type_id):
        company = ctx.tenants.company(service.company_id)
        if company is not None:
            return company, service
    return None


async def known_call(session: AsyncSession, call_id: str | None) -> Call | None:
    if not call_id:
        return None
    return (
        await session.execute(sa.select(Call).where(Call.call_id == call_id))
    ).scalar_one_or_none()


async def insert_imported(
    session: AsyncSession,
    ctx: ServiceContext,
    booking: ForeignBooking,
    company: CompanyInfo,
    service: ServiceInfo,
    *,
    source: str,
    delivery_key: str | None = None,
    call: Call | None = None,
) -> Appointment:
    """Insert the appointment (no uid check here: the caller did that before its failpoint).

    The customer is the call's only when the call's caller is the booking's attendee: a caller
    may give another name on a later attempt of the same call (the agent misheard, the caller
    corrected it), and the appointment must show whom Cal.com booked."""
    caller = await session.get(Customer, call.customer_id) \
        if call is not None and call.customer_id is not None else None
    if caller is not None and same_name(caller.name, booking.attendee_name or ""):
        customer_id: int | None = caller.id
    else:
        # The company's fallback address is shared by every caller without e-mail: never a key.
        email = booking.attendee_email if booking.attendee_email != company.fallback_email else None
        customer = await ensure_customer(
            session,
            company.id,
            booking.attendee_name or "Unbekannt",
            normalize_phone(booking.attendee_phone),
            email,
        )
        customer_id = customer.id
    appointment = await add_appointment(
        session,
        ctx,
        company_id=company.id,
        branch_id=service.branch_id,
        customer_id=customer_id,
        call_id=call.call_id if call is not None else None,
        service_id=service.id,
        event_type_id=booking.event_type_id,
        host_id=booking.host_id,
        start=booking.start,
        end=booking.end,
        status=booking.status,
        calcom_booking_uid=booking.uid,
        booking_details=booking.details,
        source=source,
        upstream_updated_at=booking.updated_at,
    )
    audit(
        session,
        ctx,
        appointment.id,
        "imported",
        source,
        delivery_key=delivery_key,
        detail={"booking_uid": booking.uid, "call_id": appointment.call_id},
    )
    return appointment
