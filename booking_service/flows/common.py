"""Pieces the voice flows share: request reading, answers, tenant and slot helpers, upserts."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from booking_service.calcom.errors import (
    CalcomError,
    CalcomRequestError,
    CalcomTimeout,
    CalcomUnavailable,
    CircuitOpenError,
    RateLimitedError,
)
from booking_service.calcom.models import EventTypeShape, UpstreamBooking, iso_z
from booking_service.context import ServiceContext
from booking_service.db import retry_transient
from booking_service.german_datetime import (
    DateTimeParseError,
    format_datum,
    format_uhrzeit,
    parse_local_datetime,
)
from booking_service.messages import message
from booking_service.models import ACTIVE_STATUSES, Appointment, AuditLog, Call, Customer
from booking_service.pii import mask_email
from booking_service.slot_lock import SlotLockBusy, SlotLockUnavailable
from booking_service.tenants import (
    BranchInfo,
    CompanyInfo,
    ServiceInfo,
    TenantDirectory,
    normalize_phone,
)

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CALL_ID_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,100}$")
MAX_TEXT = 500


class Refusal(Exception):
    """Stop a flow and answer with `status`/`reason` (never an HTTP error)."""

    def __init__(
        self,
        status: str,
        reason: str | None = None,
        *,
        start: datetime | None = None,
        alternatives: Sequence[datetime] = (),
        field: str | None = None,
        services: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} ({reason})")
        self.status = status
        self.reason = reason
        self.start = start
        self.alternatives = list(alternatives)
        self.field = field
        self.services = list(services)
        self.extra = extra or {}


class OutcomeUnknown(Exception):
    """A write failed ambiguously and could not be resolved: Cal.com may or may not have done it."""

    def __init__(self, cause: CalcomError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def slot_json(instant: datetime, zone: str) -> dict[str, str]:
    return {
        "start": iso_z(instant),
        "datum": format_datum(instant, zone),
        "uhrzeit": format_uhrzeit(instant, zone),
    }


def answer(
    ctx: ServiceContext,
    status: str,
    *,
    success: bool,
    reason: str | None = None,
    start: datetime | None = None,
    alternatives: Sequence[datetime] = (),
    field: str | None = None,
    services: Sequence[str] = (),
    pending: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    zone = ctx.settings.timezone
    body: dict[str, Any] = {
        "success": success,
        "status": status,
        "reason": reason,
        "message": message(
            status,
            start=start,
            alternatives=alternatives,
            field=field,
            services=services,
            pending=pending,
            zone=zone,
        ),
        "start": iso_z(start) if start else None,
        "alternatives": [slot_json(a, zone) for a in alternatives],
    }
    body.update(extra)
    return body


def refusal_answer(
    ctx: ServiceContext,
    refusal: Refusal,
    *,
    status: str | None = None,
    success: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """The answer for a refusal (`status` overrides the refusal's own)."""
    return answer(
        ctx,
        status or refusal.status,
        success=success,
        reason=refusal.reason,
        start=refusal.start,
        alternatives=refusal.alternatives,
        field=refusal.field,
        services=refusal.services,
        **refusal.extra,
        **extra,
    )


async def voice_flow(
    ctx: ServiceContext, run: Awaitable[dict[str, Any]], success: Collection[str] = ()
) -> dict[str, Any]:
    """Run a voice flow to its answer: a `Refusal` becomes one, and so does an exhausted pool.

    A pool timeout that gets this far came before any write to Cal.com (the flows settle the
    ones after a write themselves), so nothing happened: `rate_limited` / `database_busy`.
    """
    try:
        try:
            return await run
        except sa.exc.TimeoutError as exc:
            raise database_busy() from exc
    except Refusal as refusal:
        return refusal_answer(ctx, refusal, success=refusal.status in success)


def database_busy(start: datetime | None = None) -> Refusal:
    """No pooled database connection came within `db_pool_timeout_s`, and nothing was done."""
    log.warning("database busy: no pooled connection in time; the caller is asked to try again")
    return Refusal("rate_limited", "database_busy", start=start)


def unrecorded_change(start: datetime | None) -> Refusal:
    """Cal.com made the change, but no database connection came to record it.

    The caller hears that something went wrong (they may ask again, which finds the change made
    upstream); Cal.com's webhook, or reconciliation, brings the local record in line.
    """
    log.error("Cal.com changed a booking but no database connection came to record it")
    return Refusal("error", "database_busy", start=start)


# --- reading Retell requests ---------------------------------------------------------------


@dataclass
class RetellRequest:
    args: dict[str, Any]
    call: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: object) -> RetellRequest:
        if not isinstance(body, dict):
            raise Refusal("missing_required_field", "args", field="args")
        args = body.get("args")
        if args is None and any(
            k in body for k in ("datum", "uhrzeit", "call_id", "appointment_id")
        ):
            args = body  # some agent platforms send the arguments unwrapped
        if not isinstance(args, dict):
            raise Refusal("missing_required_field", "args", field="args")
        call = body.get("call") if isinstance(body.get("call"), dict) else {}
        return cls(args=args, call=call)

    def text(self, name: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str | None:
        """A text argument: numbers become text, blanks count as missing, objects are refused."""
        value = self.args.get(name)
        if isinstance(value, bool) or value is None:
            value = None
        elif isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            raise Refusal("error", f"invalid_{name}")
        if value is not None:
            value = value.strip()
            if len(value) > max_len:
                raise Refusal("error", f"invalid_{name}")
        if not value:
            if required:
                raise Refusal("missing_required_field", name, field=name)
            return None
        return value

    def required(self, name: str, *, max_len: int = MAX_TEXT) -> str:
        value = self.text(name, required=True, max_len=max_len)
        if value is None:  # text() raised already; this keeps type checkers informed
            raise Refusal("missing_required_field", name, field=name)
        return value

    def call_id(self) -> str:
        value = self.args.get("call_id")
        if value is None or (isinstance(value, str) and not value.strip()):
            value = self.call.get("call_id")
        if value is None or (isinstance(value, str) and not value.strip()):
            raise Refusal("missing_required_field", "call_id", field="call_id")
        if not isinstance(value, str) or not CALL_ID_RE.fullmatch(value.strip()):
            raise Refusal("error", "invalid_call_id")
        return value.strip()

    def flag(self, name: str, default: bool = True) -> bool:
        value = self.args.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("false", "nein", "no", "0", "n", "falsch"):
                return False
            if text in ("true", "ja", "yes", "1", "j", "y", "wahr", ""):
                return True
        return default


def resolve_tenant(ctx: ServiceContext, request: RetellRequest) -> tuple[CompanyInfo, BranchInfo]:
    """The branch whose phone number was called, else the default company's first branch."""
    branch = ctx.tenants.branch_for_number(request.call.get("to_number"))
    if branch is not None:
        company = ctx.tenants.company(branch.company_id)
        assert company is not None
        return company, branch
    company = ctx.tenants.default_company
    return company, company.branches[0]


def find_service(branch: BranchInfo, spoken: str | None, *, required: bool) -> ServiceInfo:
    if spoken is None and not required:
        return branch.services[0]
    service = TenantDirectory.find_service(branch, spoken)
    if service is None:
        raise Refusal(
            "unknown_service", "unknown_service", services=[s.name for s in branch.services]
        )
    return service


def parse_start(ctx: ServiceContext, datum: str, uhrzeit: str) -> datetime:
    """The requested start as aware UTC; refuses unreadable and past times."""
    try:
        start = parse_local_datetime(datum, uhrzeit, ctx.now(), ctx.settings.timezone)
    except DateTimeParseError as exc:
        raise Refusal(exc.kind, exc.kind) from exc
    if start <= ctx.now():
        raise Refusal("past_date", "in_the_past", start=start)
    return start


def clean_name(value: str) -> str:
    name = " ".join(value.split())
    if not any(c.isalpha() for c in name) or len(name) > 200:
        raise Refusal("error", "invalid_name")
    return name


def clean_email(value: str | None) -> str | None:
    if value is None:
        return None
    email = value.strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        log.info("ignoring an unusable e-mail address from the caller (%s)", mask_email(email))
        return None
    return email


def clean_phone(value: str | None) -> str | None:
    return normalize_phone(value) if value else None


def same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


# --- Cal.com errors → answers ----------------------------------------------------------------


def calcom_refusal(
    exc: CalcomError | OutcomeUnknown, *, start: datetime | None = None, read: bool = False
) -> Refusal:
    """The caller's answer to a failed Cal.com call. A read that timed out wrote nothing: that
    is a definite "not now" (`upstream_unavailable`), never the unknown outcome `timeout`."""
    if isinstance(exc, OutcomeUnknown):
        status = "timeout" if isinstance(exc.cause, CalcomTimeout) else "upstream_unavailable"
        return Refusal(status, "outcome_unknown", start=start)
    if isinstance(exc, CircuitOpenError):
        return Refusal("circuit_open", "circuit_open", start=start)
    if isinstance(exc, RateLimitedError):
        return Refusal("rate_limited", "calcom_rate_limit", start=start)
    if isinstance(exc, CalcomTimeout):
        return Refusal("upstream_unavailable" if read else "timeout", "calcom_timeout", start=start)
    if isinstance(exc, CalcomUnavailable):
        return Refusal("upstream_unavailable", exc.kind, start=start)
    if isinstance(exc, CalcomRequestError):
        if exc.booking_conflict:
            return Refusal("race_condition_detected", "booking_conflict_error", start=start)
        if exc.slot_unavailable:
            return Refusal("slot_taken", "host_busy", start=start)
        if exc.in_the_past:
            return Refusal("past_date", "in_the_past", start=start)
        if exc.out_of_bounds:
            return Refusal("slot_taken", "outside_booking_window", start=start)
        if exc.status == 404:
            return Refusal("unknown_service", "event_type_not_found", start=start)
        log.warning("Cal.com refused a request: %s", exc)
        return Refusal("error", "calcom_rejected", start=start)
    return Refusal("error", "calcom_error", start=start)


async def write_refusal(
    ctx: ServiceContext,
    exc: CalcomError | OutcomeUnknown,
    company: CompanyInfo,
    service: ServiceInfo,
    start: datetime,
) -> Refusal:
    """The answer to a failed create or reschedule, with alternatives when the slot is gone."""
    refusal = calcom_refusal(exc, start=start)
    if refusal.status in ("slot_taken", "race_condition_detected"):
        refusal.alternatives = await alternatives_for(ctx, company, service, start)
    return refusal


# --- slots and alternatives ------------------------------------------------------------------


def local_date_bounds(day: date, zone: str, days: int = 1) -> tuple[datetime, datetime]:
    """UTC bounds of a local calendar day (and `days - 1` further days)."""
    tz = ZoneInfo(zone)
    first = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    last = datetime.combine(day + timedelta(days=days), datetime.min.time(), tzinfo=tz)
    return first.astimezone(UTC), last.astimezone(UTC)


def local_day_bounds(instant: datetime, zone: str, days: int = 1) -> tuple[datetime, datetime]:
    """UTC bounds of the local calendar day of `instant` (and `days - 1` further days)."""
    return local_date_bounds(instant.astimezone(ZoneInfo(zone)).date(), zone, days)


async def free_slots(
    ctx: ServiceContext, company: CompanyInfo, service: ServiceInfo, around: datetime, days: int = 1
) -> list[datetime]:
    start, end = local_day_bounds(around, ctx.settings.timezone, days)
    return await ctx.calcom.free_slots(company.calcom_api_key, service.event_type_id, start, end)


def pick_alternatives(
    free: Sequence[datetime], wanted: datetime, now: datetime, zone: str, limit: int
) -> list[datetime]:
    """Nearest free slots on the same day (up to two), then the first free slot of each next day."""
    tz = ZoneInfo(zone)
    day = wanted.astimezone(tz).date()
    candidates = sorted(s for s in free if s != wanted and s > now)
    same_day = sorted(
        (s for s in candidates if s.astimezone(tz).date() == day),
        key=lambda s: (abs(s - wanted), s),
    )[: min(2, limit)]
    picks = list(same_day)
    seen_days = {day}
    for slot in candidates:
        if len(picks) >= limit:
            break
        slot_day = slot.astimezone(tz).date()
        if slot_day > day and slot_day not in seen_days:
            seen_days.add(slot_day)
            picks.append(slot)
    return sorted(picks)


async def alternatives_for(
    ctx: ServiceContext,
    company: CompanyInfo,
    service: ServiceInfo,
    wanted: datetime,
    known_free: Sequence[datetime] | None = None,
) -> list[datetime]:
    """Alternatives to offer; best effort (an unreachable Cal.com means none)."""
    days = max(1, ctx.settings.alternatives_days + 1)
    try:
        free = await free_slots(ctx, company, service, wanted, days)
    except CalcomError:
        free = list(known_free or [])
    return pick_alternatives(
        free, wanted, ctx.now(), ctx.settings.timezone, ctx.settings.max_alternatives
    )


async def before_slot_lock(ctx: ServiceContext, company: CompanyInfo, start: datetime) -> None:
    """Wait for a closed Cal.com rate-limit window (within the caller's budget) before taking the
    slot lock rather than while holding it, or refuse with `rate_limited` at once."""
    try:
        await ctx.calcom.open_window(company.calcom_api_key)
    except CalcomError as exc:
        raise calcom_refusal(exc, start=start) from exc


async def slot_lock_refusal(
    ctx: ServiceContext,
    exc: SlotLockUnavailable,
    company: CompanyInfo,
    service: ServiceInfo,
    start: datetime,
) -> Refusal:
    """Another flow kept the slot too long, or this process had no lock connection free."""
    if isinstance(exc, SlotLockBusy):
        log.warning("no slot-lock connection free in time for %s", iso_z(start))
        return Refusal("rate_limited", "slot_lock_busy", start=start)
    log.warning("slot lock for %s not acquired in time", iso_z(start))
    alternatives = await alternatives_for(ctx, company, service, start)
    return Refusal(
        "race_condition_detected", "slot_lock_timeout", start=start, alternatives=alternatives
    )


# --- database helpers ------------------------------------------------------------------------


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


async def ensure_customer(
    session: AsyncSession, company_id: int, name: str, phone: str | None, email: str | None
) -> Customer:
    """The company's customer with this name and phone (else e-mail); created if new.

    Two people calling from one landline are two customers: a customer is never renamed, or an
    earlier appointment would show another attendee than its Cal.com booking.
    """
    query = sa.select(Customer).where(Customer.company_id == company_id)
    if phone:
        query = query.where(Customer.phone == phone)
    elif email:
        query = query.where(Customer.email == email)
    else:
        query = query.where(Customer.phone.is_(None), Customer.email.is_(None))
    candidates = (await session.execute(query.order_by(Customer.id).limit(50))).scalars()
    customer = next((c for c in candidates if same_name(c.name, name)), None)
    if customer is None:
        customer = Customer(company_id=company_id, name=name, phone=phone, email=email)
        session.add(customer)
    else:
        if email and not customer.email:
            customer.email = email
        if phone and not customer.phone:
            customer.phone = phone
    await session.flush()
    return customer


async def record_caller(
    ctx: ServiceContext,
    call_id: str,
    company_id: int,
    branch_id: str | None,
    name: str,
    phone: str | None,
    email: str | None,
) -> int:
    """Upsert the customer and the voice call in one transaction; returns the customer id.

    A call id already used by another company is refused. Concurrent requests of one call race
    to insert its row: the loser sees the UNIQUE violation (and reads the winner's row on the
    next pass) or, on MariaDB, is chosen as a deadlock victim and runs again.
    """

    async def once() -> int | None:
        try:
            async with ctx.db.write() as session:
                customer = await ensure_customer(session, company_id, name, phone, email)
                call = (
                    await session.execute(sa.select(Call).where(Call.call_id == call_id))
                ).scalar_one_or_none()
                if call is None:
                    session.add(
                        Call(
                            call_id=call_id,
                            company_id=company_id,
                            branch_id=branch_id,
                            customer_id=customer.id,
                            created_at=ctx.now(),
                        )
                    )
                elif call.company_id != company_id:
                    raise Refusal("error", "call_id_conflict")
                else:
                    call.customer_id = customer.id
                return customer.id
        except sa.exc.IntegrityError:
            return None  # another request of the same call inserted it first

    for _ in range(2):
        customer_id = await retry_transient(once)
        if customer_id is not None:
            return customer_id
    raise Refusal("error", "call_id_conflict")


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


def appointment_status_for(booking: UpstreamBooking) -> str:
    return "pending" if booking.status == "pending" else "scheduled"


def booking_columns(
    booking: UpstreamBooking, *, event_type_id: int, host_id: int | None
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
