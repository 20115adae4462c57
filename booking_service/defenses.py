"""The twelve duplicate-prevention defenses (docs/contracts.md §2.2): their switches, and each
defense as the function that applies it.

`Defenses` says which are on (all by default); a flow asks `ctx.defenses.<name>` through the
functions here, never on its own, so switching one off by name (`Defenses().without(name)`,
`--defense-off`, `BOOKING_DEFENSES_OFF`) removes exactly that layer and nothing else. The
ablation relies on it: each defense has a scenario that fails when it alone is off (§2.8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from booking_service.calcom.errors import CalcomError
from booking_service.calcom.models import EventTypeShape, UpstreamBooking
from booking_service.flows.appointments import appointment_by_uid
from booking_service.flows.callers import same_name
from booking_service.models import ACTIVE_STATUSES, Appointment
from booking_service.tenants import CompanyInfo

# The settings import this module, so the service context is only a type here.
if TYPE_CHECKING:
    from booking_service.context import ServiceContext

#: Stable defense names, in the order of the contract table (harness, ablation and reports use them).
DEFENSE_NAMES: tuple[str, ...] = (
    "freshness",
    "call_id_match",
    "attendee_match",
    "uid_duplicate_check",
    "unique_constraint",
    "availability_double_check",
    "slot_lock",
    "ambiguous_create_lookup",
    "webhook_signature",
    "webhook_dedupe",
    "webhook_ordering",
    "tenant_isolation",
)


@dataclass(frozen=True)
class Defenses:
    """Which defenses are on. All on by default; switch one off to prove a test catches its absence."""

    freshness: bool = True
    call_id_match: bool = True
    attendee_match: bool = True
    uid_duplicate_check: bool = True
    unique_constraint: bool = True
    availability_double_check: bool = True
    slot_lock: bool = True
    ambiguous_create_lookup: bool = True
    webhook_signature: bool = True
    webhook_dedupe: bool = True
    webhook_ordering: bool = True
    tenant_isolation: bool = True

    @classmethod
    def with_off(cls, names: Iterable[str] | str | None) -> Defenses:
        """All on except `names` (an iterable, or a comma-separated string as on the command line)."""
        if names is None:
            return cls()
        if isinstance(names, str):
            names = [n for n in (part.strip() for part in names.split(",")) if n]
        off = list(names)
        unknown = sorted(set(off) - set(DEFENSE_NAMES))
        if unknown:
            raise ValueError(
                f"unknown defense name(s): {', '.join(unknown)}; known: {', '.join(DEFENSE_NAMES)}"
            )
        return cls(**{name: False for name in off})

    @classmethod
    def all_off(cls) -> Defenses:
        return cls(**{name: False for name in DEFENSE_NAMES})

    def without(self, *names: str) -> Defenses:
        """A copy with `names` switched off as well."""
        Defenses.with_off(names)  # validates the names
        return replace(self, **{name: False for name in names})

    def is_on(self, name: str) -> bool:
        if name not in DEFENSE_NAMES:
            raise ValueError(f"unknown defense name: {name}")
        return bool(getattr(self, name))

    @property
    def off(self) -> list[str]:
        return [f.name for f in fields(self) if not getattr(self, f.name)]

    def as_dict(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in DEFENSE_NAMES}


async def event_type_shape(
    ctx: ServiceContext, company: CompanyInfo, event_type_id: int
) -> EventTypeShape:
    """Cached per app; when Cal.com cannot say, `individual` (the cautious reading)."""
    known = ctx.event_types.get(event_type_id)
    if known is not None:
        return known
    try:
        shape = await ctx.calcom.get_event_type(company.calcom_api_key, event_type_id)
    except CalcomError:
        shape = None
    if shape is None:
        return EventTypeShape("individual", 1)
    ctx.event_types[event_type_id] = shape
    return shape


async def local_conflict(
    session: AsyncSession,
    company_id: int,
    event_type_id: int,
    start: datetime,
    end: datetime,
    exclude_id: int | None = None,
    shape: EventTypeShape | None = None,
) -> Appointment | None:
    """An active local appointment overlapping [start, end) that leaves no host for this booking.

    Its hosts are those earlier bookings of this event type were made with (Cal.com picks the
    host). Individual and collective event types: any overlap of the event type or one of its
    hosts. Round robin: only when as many of its hosts are busy as it has hosts.
    """
    hosts = (
        sa.select(Appointment.host_id)
        .where(Appointment.event_type_id == event_type_id, Appointment.host_id.is_not(None))
        .distinct()
        .scalar_subquery()
    )
    query = (
        sa.select(Appointment)
        .where(
            Appointment.company_id == company_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.start < end,
            Appointment.end > start,
            sa.or_(Appointment.event_type_id == event_type_id, Appointment.host_id.in_(hosts)),
        )
        .order_by(Appointment.id)
    )
    if exclude_id is not None:
        query = query.where(Appointment.id != exclude_id)
    if shape is None or shape.scheduling != "round_robin":
        return (await session.execute(query.limit(1))).scalar_one_or_none()
    overlapping = list((await session.execute(query.limit(100))).scalars())
    busy_hosts = {a.host_id if a.host_id is not None else f"unknown:{a.id}" for a in overlapping}
    return overlapping[0] if len(busy_hosts) >= shape.host_count else None


def check_returned_booking(
    ctx: ServiceContext,
    booking: UpstreamBooking,
    *,
    call_id: str | None,
    expected_start: datetime,
    caller_name: str,
    idempotency_key: str | None,
    requested_at: datetime | None = None,
) -> tuple[str, str] | None:
    """The three checks on what Cal.com answered (seeds/004 layers 1 and 2, plus attendee/start).

    Returns `(defense, reason)` of the first check that refuses the booking, or None.

    Freshness has two rules: older than the window; and a booking that carries no call id must
    have been made by this create — not before it was sent, and not of unknown age (Cal.com's
    dedupe handing us a namesake's booking, made at the desk with the practice's fallback e-mail
    seconds earlier, passes every other layer). A refused booking that is ours after all (our
    idempotency key, found by the lookup that follows a refusal) is still adopted.
    """
    now = ctx.now()
    age: float | None = None
    if booking.created_at is not None:
        age = (now - booking.created_at).total_seconds()
        ctx.metrics.booking_age.observe(max(0.0, age))
    else:
        ctx.metrics.missing_created_at.inc()
    # A booking carrying our own idempotency key is provably ours, however long the
    # create took (a slow, retried create can be older than the freshness window).
    ours = (
        idempotency_key is not None and booking.metadata.get("idempotency_key") == idempotency_key
    )
    defenses = ctx.defenses
    if defenses.freshness and not ours and age is not None and age > ctx.settings.freshness_seconds:
        return "freshness", "booking_too_old"
    if defenses.freshness and not ours and requested_at is not None \
            and not booking.metadata.get("call_id"):
        if booking.created_at is None:
            return "freshness", "booking_age_unknown"
        if (requested_at - booking.created_at).total_seconds() > ctx.settings.clock_skew_s:
            return "freshness", "booking_predates_request"
    if defenses.call_id_match and call_id is not None:
        returned = booking.metadata.get("call_id")
        if returned not in (None, "") and str(returned) != call_id:
            return "call_id_match", "call_id_mismatch"
    if defenses.attendee_match:
        attendee = booking.first_attendee
        if booking.start != expected_start or (
            attendee is not None and not same_name(attendee.name, caller_name)
        ):
            return "attendee_match", "attendee_mismatch"
    return None


async def uid_holder(ctx: ServiceContext, uid: str) -> Appointment | None:
    """After a UNIQUE violation on inserting `uid`: the appointment that holds it (the
    `unique_constraint` layer's doing, counted), or None if the violation was another one."""
    async with ctx.db.read() as session:
        holder = await appointment_by_uid(session, uid)
    if holder is not None:
        ctx.metrics.rejections.labels(
            layer="unique_constraint", reason="existing_appointment_returned"
        ).inc()
    return holder
