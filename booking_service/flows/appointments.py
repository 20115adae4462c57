"""Appointment rows: looked up by booking uid, inserted from a Cal.com booking, cancelled
locally, and the audit row every change leaves.

The service context is only a type here: `booking_service.defenses` looks appointments up by
uid with this module, and the settings import the defenses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from booking_service.calcom.models import UpstreamBooking
from booking_service.models import ACTIVE_STATUSES, Appointment, AuditLog

if TYPE_CHECKING:
    from booking_service.context import ServiceContext


async def appointment_by_uid(
    session: AsyncSession, uid: str, *, for_update: bool = False
) -> Appointment | None:
    query = (
        sa.select(Appointment)
        .where(Appointment.calcom_booking_uid == uid)
        .order_by(Appointment.id)
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def audit(
    session: AsyncSession,
    ctx: ServiceContext,
    appointment_id: int | None,
    action: str,
    source: str,
    *,
    delivery_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            appointment_id=appointment_id,
            action=action,
            source=source,
            delivery_key=delivery_key,
            at=ctx.now(),
            detail=detail,
        )
    )


async def cancel_locally(
    ctx: ServiceContext, appointment_id: int, source: str, detail: dict[str, Any]
) -> bool:
    """Mark an active appointment cancelled (audited); False when it is not active (any more)."""
    async with ctx.db.write() as session:
        appointment = await session.get(Appointment, appointment_id, with_for_update=True)
        if appointment is None or appointment.status not in ACTIVE_STATUSES:
            return False
        previous = appointment.status
        appointment.status = "cancelled"
        appointment.updated_at = ctx.now()
        audit(
            session, ctx, appointment.id, "cancelled", source, detail={"from": previous, **detail}
        )
    return True


def appointment_status_for(booking: UpstreamBooking) -> str:
    return "pending" if booking.status == "pending" else "scheduled"


def booking_columns(
    booking: UpstreamBooking, *, event_type_id: int | None, host_id: int | None
) -> dict[str, Any]:
    """An appointment's columns that Cal.com's booking decides (its event type and host, where
    Cal.com names them, else the ones given)."""
    return {
        "event_type_id": booking.event_type_id or event_type_id,
        "host_id": booking.host_ids[0] if booking.host_ids else host_id,
        "start": booking.start,
        "end": booking.end,
        "status": appointment_status_for(booking),
        "calcom_booking_uid": booking.uid,
        "booking_details": booking.details(),
        "upstream_updated_at": booking.updated_at,
    }


async def add_appointment(
    session: AsyncSession, ctx: ServiceContext, **columns: Any
) -> Appointment:
    """Insert an appointment made now (flushed: it has its id; the UNIQUE index has spoken)."""
    now = ctx.now()
    appointment = Appointment(created_at=now, updated_at=now, **columns)
    session.add(appointment)
    await session.flush()
    return appointment
