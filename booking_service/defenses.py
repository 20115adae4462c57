"""The twelve duplicate-prevention defenses (docs/contracts.md §2.2): their switches, and each
defense as the function that applies it.

`Defenses` says which are on (all by default). Every switch is read here, in the function that
applies its defense, and nowhere else: the flows call these functions, so switching one off by
name (`Defenses().without(name)`, `--defense-off`, `BOOKING_DEFENSES_OFF`) removes exactly that
layer. The ablation relies on it: each defense has a scenario that fails when it alone is off
(§2.8). `SWITCHES`, at the end, maps each name to its functions and the places that call them.

The incidents behind them (ids of `reports/incidents.py`):

* Call 687/688 (`duplicate-stale-booking`): Cal.com answered Call 688's create with Call 687's
  35-minute-old booking — another call's metadata, another name — and the service handed it
  over. `freshness`, `call_id_match`, `attendee_match` refuse such an answer;
  `uid_duplicate_check` and `unique_constraint` keep one booking uid to one appointment.
* The 14-second availability race (`availability-race-14s`): between "14:00 is free" and "yes,
  book it" someone else took the slot. `availability_double_check`, `slot_lock`.
* A create whose answer never came (`tc-010`): retried blindly it books twice, or is refused
  because our own first booking holds the slot. `ambiguous_create_lookup`.
* Duplicate webhook deliveries (`webhook-duplicate`), forged ones, and the database drifting
  from Cal.com when deliveries arrive out of order (`webhook-out-of-order`,
  `local-calcom-drift`). `webhook_signature`, `webhook_dedupe`, `webhook_ordering`.
* One practice reading another's appointments (seeds/001 §6.2). `tenant_isolation`.

The settings import this module, so it sits below the service context: the context is only a
type here, and the flow helpers it uses (`flows.appointments`, `flows.callers`) import no
context either.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVarTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from booking_service.calcom.errors import CalcomError
from booking_service.calcom.models import EventTypeShape, UpstreamBooking
from booking_service.flows.appointments import appointment_by_uid
from booking_service.flows.callers import same_name
from booking_service.metrics import Metrics
from booking_service.models import (
    ACTIVE_STATUSES,
    PLAIN_BOOKING_UID_INDEX,
    UNIQUE_BOOKING_UID_INDEX,
    Appointment,
    BookingTombstone,
    ProcessedWebhook,
)
from booking_service.slot_lock import (
    DEFAULT_LOCK_CONNECTIONS,
    InProcessSlotLocks,
    MySQLSlotLocks,
    NoSlotLocks,
    PostgresSlotLocks,
    SlotLocks,
    slot_key,
)
from booking_service.tenants import CompanyInfo, ServiceInfo

if TYPE_CHECKING:
    from booking_service.context import ServiceContext

log = logging.getLogger(__name__)

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


class Rejection(NamedTuple):
    """A defense saying no: its name and why (both labels of the rejections metric)."""

    defense: str
    reason: str

    def record(self, metrics: Metrics) -> None:
        metrics.rejections.labels(layer=self.defense, reason=self.reason).inc()


# --- what Cal.com answered: freshness, call_id_match, attendee_match --------------------------


def freshness(
    ctx: ServiceContext,
    booking: UpstreamBooking,
    *,
    age: float | None,
    idempotency_key: str | None,
    requested_at: datetime | None,
) -> Rejection | None:
    """`freshness`: refuse a returned booking that was not made by this create.

    Call 687/688 (seeds/003 Layer 1): Cal.com's dedupe handed Call 688 a 35-minute-old booking.
    Older than `freshness_seconds` (30 s, inclusive) is refused; a missing `createdAt` passes
    (counted). A booking with no call id must also not predate the request (by more than
    `clock_skew_s`) nor be of unknown age: the state machine found a namesake's fresh desk
    booking, made with the practice's fallback e-mail seconds earlier, passing every other
    layer. A booking carrying this attempt's idempotency key is ours however long the create
    took (a slow, retried create can outlast the window).
    """
    if not ctx.defenses.freshness:
        return None
    if idempotency_key is not None and booking.metadata.get("idempotency_key") == idempotency_key:
        return None
    if age is not None and age > ctx.settings.freshness_seconds:
        return Rejection("freshness", "booking_too_old")
    if requested_at is not None and not booking.metadata.get("call_id"):
        if booking.created_at is None:
            return Rejection("freshness", "booking_age_unknown")
        if (requested_at - booking.created_at).total_seconds() > ctx.settings.clock_skew_s:
            return Rejection("freshness", "booking_predates_request")
    return None


def call_id_match(
    ctx: ServiceContext, booking: UpstreamBooking, call_id: str | None
) -> Rejection | None:
    """`call_id_match`: refuse a returned booking whose `metadata.call_id` names another call.

    Call 687/688 (seeds/003 Layer 2): the booking carried Call 687's id. A booking without a
    call id passes, as in the incident's fix (outside bookings have none).
    """
    if not ctx.defenses.call_id_match or call_id is None:
        return None
    returned = booking.metadata.get("call_id")
    if returned not in (None, "") and str(returned) != call_id:
        return Rejection("call_id_match", "call_id_mismatch")
    return None


def attendee_match(
    ctx: ServiceContext, booking: UpstreamBooking, *, expected_start: datetime, caller_name: str
) -> Rejection | None:
    """`attendee_match`: refuse a returned booking at another start or for another attendee.

    Call 687/688: the booking handed to Hans Schuster was Hansi Sputer's. Names compare
    case- and whitespace-insensitively; a booking without attendees is judged by its start.
    """
    if not ctx.defenses.attendee_match:
        return None
    attendee = booking.first_attendee
    if booking.start != expected_start or (
        attendee is not None and not same_name(attendee.name, caller_name)
    ):
        return Rejection("attendee_match", "attendee_mismatch")
    return None


def check_returned_booking(
    ctx: ServiceContext,
    booking: UpstreamBooking,
    *,
    call_id: str | None,
    expected_start: datetime,
    caller_name: str,
    idempotency_key: str | None,
    requested_at: datetime | None = None,
) -> Rejection | None:
    """`freshness`, `call_id_match` and `attendee_match` on what Cal.com answered a create or
    reschedule, in this order; the first that refuses the booking says why (a `Rejection`,
    equal to `(defense, reason)`).

    The booking's age is observed whatever the switches say (the metric watches Cal.com).
    """
    age: float | None = None
    if booking.created_at is not None:
        age = (ctx.now() - booking.created_at).total_seconds()
        ctx.metrics.booking_age.observe(max(0.0, age))
    else:
        ctx.metrics.missing_created_at.inc()
    return (
        freshness(
            ctx, booking, age=age, idempotency_key=idempotency_key, requested_at=requested_at
        )
        or call_id_match(ctx, booking, call_id)
        or attendee_match(ctx, booking, expected_start=expected_start, caller_name=caller_name)
    )


# --- one booking uid, one appointment: uid_duplicate_check, unique_constraint ------------------


async def uid_already_held(
    ctx: ServiceContext, session: AsyncSession, uid: str
) -> Appointment | None:
    """`uid_duplicate_check`: before inserting, the appointment that already holds `uid`.

    Call 687/688 (seeds/003 Layer 3): a booking Cal.com hands back may already be an
    appointment — another call's, or one imported from its webhook. The flow decides: the same
    call gets its appointment again, anyone else `duplicate`. Off: None, no lookup.
    """
    if not ctx.defenses.uid_duplicate_check:
        return None
    return await appointment_by_uid(session, uid)


async def apply_unique_constraint_mode(engine: AsyncEngine, enabled: bool) -> None:
    """`unique_constraint` lives in the schema: make the index match the switch.

    seeds/003 Layer 4: a UNIQUE index on `appointments.calcom_booking_uid`, the last word when
    the lookup is off or raced — a webhook import and a reconcile repair of one booking at once
    (neither takes the slot lock). Off: the service drops it at start-up (and warns) for a
    plain index; on again, restored (refused while duplicates exist).
    """

    def indexes(connection: sa.Connection) -> dict[str, bool]:
        found = sa.inspect(connection).get_indexes("appointments")
        return {ix["name"]: bool(ix["unique"]) for ix in found if ix["name"]}

    async with engine.begin() as connection:
        present = await connection.run_sync(indexes)
        table = sa.Table(
            "appointments", sa.MetaData(), sa.Column("calcom_booking_uid", sa.String(64))
        )
        if enabled:
            if present.get(UNIQUE_BOOKING_UID_INDEX):
                return
            if PLAIN_BOOKING_UID_INDEX in present:
                await connection.run_sync(
                    lambda c: sa.Index(PLAIN_BOOKING_UID_INDEX, table.c.calcom_booking_uid).drop(c)
                )
            try:
                await connection.run_sync(
                    lambda c: sa.Index(
                        UNIQUE_BOOKING_UID_INDEX, table.c.calcom_booking_uid, unique=True
                    ).create(c)
                )
            except sa.exc.IntegrityError as exc:
                raise RuntimeError(
                    "cannot restore the UNIQUE index on appointments.calcom_booking_uid: the database "
                    "already holds duplicate appointments for one Cal.com booking (made while the "
                    "unique_constraint defense was off); clean them up or use a fresh database"
                ) from exc
            log.info("unique_constraint: UNIQUE index on appointments.calcom_booking_uid restored")
        else:
            if UNIQUE_BOOKING_UID_INDEX in present:
                await connection.run_sync(
                    lambda c: sa.Index(UNIQUE_BOOKING_UID_INDEX, table.c.calcom_booking_uid).drop(c)
                )
            if PLAIN_BOOKING_UID_INDEX not in present:
                await connection.run_sync(
                    lambda c: sa.Index(PLAIN_BOOKING_UID_INDEX, table.c.calcom_booking_uid).create(
                        c
                    )
                )
            log.warning(
                "DEFENSE OFF unique_constraint: dropped the UNIQUE index on appointments.calcom_booking_uid; "
                "two appointments may now hold one Cal.com booking"
            )


async def uid_holder(ctx: ServiceContext, uid: str) -> Appointment | None:
    """`unique_constraint`, after a violation on inserting `uid`: the appointment that holds it
    (counted), or None if the violation was another one. The flow answers with it, as the
    incident's fix did — never a 500."""
    async with ctx.db.read() as session:
        holder = await appointment_by_uid(session, uid)
    if holder is not None:
        Rejection("unique_constraint", "existing_appointment_returned").record(ctx.metrics)
    return holder


# --- one slot, one booking: availability_double_check, slot_lock --------------------------------


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


@dataclass(frozen=True)
class DoubleCheck:
    """One slot's `availability_double_check` (see `double_check`): the local half here, Cal.com's
    slots for the local day in the flow (outside any database session)."""

    company_id: int
    event_type_id: int
    start: datetime
    end: datetime
    shape: EventTypeShape
    exclude_id: int | None = None  # the appointment being rescheduled

    async def local_conflict(self, session: AsyncSession) -> Appointment | None:
        """`availability_double_check`, the local half: an active local appointment overlapping
        [start, end) that leaves no host for this booking.

        Its hosts are those earlier bookings of this event type were made with (Cal.com picks the
        host). Individual and collective event types: any overlap of the event type or one of its
        hosts. Round robin: only when as many of its hosts are busy as it has hosts.
        """
        hosts = (
            sa.select(Appointment.host_id)
            .where(
                Appointment.event_type_id == self.event_type_id, Appointment.host_id.is_not(None)
            )
            .distinct()
            .scalar_subquery()
        )
        query = (
            sa.select(Appointment)
            .where(
                Appointment.company_id == self.company_id,
                Appointment.status.in_(ACTIVE_STATUSES),
                Appointment.start < self.end,
                Appointment.end > self.start,
                sa.or_(
                    Appointment.event_type_id == self.event_type_id,
                    Appointment.host_id.in_(hosts),
                ),
            )
            .order_by(Appointment.id)
        )
        if self.exclude_id is not None:
            query = query.where(Appointment.id != self.exclude_id)
        if self.shape.scheduling != "round_robin":
            return (await session.execute(query.limit(1))).scalar_one_or_none()
        overlapping = list((await session.execute(query.limit(100))).scalars())
        busy_hosts = {a.host_id if a.host_id is not None else f"unknown:{a.id}" for a in overlapping}
        return overlapping[0] if len(busy_hosts) >= self.shape.host_count else None


async def double_check(
    ctx: ServiceContext,
    company: CompanyInfo,
    service: ServiceInfo,
    start: datetime,
    *,
    exclude_id: int | None = None,
) -> DoubleCheck | None:
    """`availability_double_check`: right before creating upstream, is the slot still free?

    The 14-second availability race (RCA 2025-10-14): the caller heard "14:00 is free", took 14
    seconds to say yes, and someone else took 14:00 meanwhile. Checked again under the slot
    lock: a local active appointment overlapping the slot (`DoubleCheck.local_conflict`), then
    Cal.com's slots for that local day → `slot_taken` with alternatives. None when off: no
    second check. The event type's shape (round robin?) is read from Cal.com here, before any
    database session is opened.
    """
    if not ctx.defenses.availability_double_check:
        return None
    shape = await event_type_shape(ctx, company, service.event_type_id)
    return DoubleCheck(
        company_id=company.id,
        event_type_id=service.event_type_id,
        start=start,
        end=start + timedelta(minutes=service.duration),
        shape=shape,
        exclude_id=exclude_id,
    )


#: How far around a new booking the after-create look lists Cal.com's bookings: wide enough for
#: a longer booking of the host that started earlier and still overlaps.
OVERBOOK_WINDOW = timedelta(hours=8)


async def overbooked_by(
    ctx: ServiceContext, company: CompanyInfo, booking: UpstreamBooking, requested_at: datetime
) -> UpstreamBooking | None:
    """`availability_double_check`, after the create: the booking that already held one of our
    new booking's hosts at that time, if Cal.com accepted ours anyway.

    The check before the create cannot see what happens inside it: an outside booker taking the
    host in the same instant, Cal.com's own race accepting a create for a busy host, or handing
    a round-robin create the host our earlier caller holds. The caller would arrive at a host
    who is expected twice. So look again once Cal.com has answered, for an active booking that
    overlaps ours and shares a host, and came first: made elsewhere (no idempotency key) and no
    younger than ours, or one of ours made before this request began. Our own bookings made
    while this one was in flight are the slot lock's to keep apart (two of ours racing must not
    both step back). Cal.com unreadable: None (the booking stands; telling a booked caller
    "taken" would lose a booking). Costs one booking list per create when one host holds it:
    the keys are tried in turn until one shows our booking (its owner is our host).
    """
    if not ctx.defenses.availability_double_check or not booking.host_ids:
        return None
    hosts = set(booking.host_ids)
    # Cal.com's clock against ours: a booking of ours counts as earlier only clearly so.
    before_us = requested_at - timedelta(seconds=ctx.settings.clock_skew_s)

    def came_first(other: UpstreamBooking) -> bool:
        if other.metadata.get("idempotency_key"):
            return other.created_at is not None and other.created_at < before_us
        return other.created_at is None or booking.created_at is None or \
            other.created_at <= booking.created_at

    for key in company.calcom_list_keys:
        try:
            listed = await ctx.calcom.list_bookings(
                key,
                after_start=booking.start - OVERBOOK_WINDOW,
                before_end=booking.end + OVERBOOK_WINDOW,
                page_size=ctx.settings.calcom_list_page_size,
            )
        except CalcomError as exc:
            log.warning("after-create check of booking %s skipped: %s", booking.uid, exc.kind)
            return None
        for other in listed:
            if (
                other.uid != booking.uid
                and other.active
                and hosts & set(other.host_ids)
                and other.start < booking.end
                and other.end > booking.start
                and came_first(other)
            ):
                return other
        if len(hosts) == 1 and any(other.uid == booking.uid for other in listed):
            break  # this key's owner is our one host: it showed every booking of that host
    return None


def slot_locks_for(
    engine: AsyncEngine,
    *,
    enabled: bool,
    timeout_s: float,
    connections: int = DEFAULT_LOCK_CONNECTIONS,
) -> SlotLocks:
    """`slot_lock` is the implementation the service holds slots with (chosen at start-up, and
    by the embedded harness when it switches defenses).

    The 14-second race's other half: two callers passing the double-check at the same moment
    both book. On: the lock lives where the state lives — MariaDB/MySQL `GET_LOCK`, PostgreSQL
    advisory locks, SQLite an in-process lock (one process). Off: `NoSlotLocks`, holding nothing.
    """
    if not enabled:
        return NoSlotLocks()
    name = engine.dialect.name
    if name == "mysql":
        return MySQLSlotLocks(engine, timeout_s, connections)
    if name == "postgresql":
        return PostgresSlotLocks(engine, timeout_s, connections)
    return InProcessSlotLocks(timeout_s)


@contextlib.asynccontextmanager
async def hold_slot(ctx: ServiceContext, company_id: int, start: datetime) -> AsyncIterator[None]:
    """`slot_lock`: hold the slot (company + start, UTC) from the double-check until the local
    insert commits; the wait is measured. `SlotLockUnavailable` when not had in time (the flow
    answers it). With the defense off `ctx.slot_locks` holds nothing (see `slot_locks_for`)."""
    waited_since = time.perf_counter()
    async with ctx.slot_locks.hold(slot_key(company_id, start)):
        ctx.metrics.slot_lock_wait.observe(time.perf_counter() - waited_since)
        yield


# --- a write whose outcome is unknown: ambiguous_create_lookup ----------------------------------


@dataclass(frozen=True)
class OwnBooking:
    """How to recognise our own booking at Cal.com: the attempt's idempotency key, looked up
    among the bookings at [start, end] for the attendee, with each of the company's keys."""

    list_keys: tuple[str, ...]
    idempotency_key: str
    attendee_email: str | None
    start: datetime
    end: datetime


def looks_for_own_booking(ctx: ServiceContext) -> bool:
    """`ambiguous_create_lookup`: after a write whose outcome is unknown (timeout, reset, 5xx,
    unreadable body) — and before believing a refusal, which can arrive after Cal.com committed —
    look for our own result at Cal.com before writing again.

    TC-010 and the lost booking: a create retried blindly after Cal.com committed books the slot
    twice or, for a plain event type, is refused because our own first booking holds the slot,
    and the caller hears "taken" while a booking for them exists. Off: retry blindly.
    """
    return ctx.defenses.ambiguous_create_lookup


async def find_own_booking(ctx: ServiceContext, own: OwnBooking) -> UpstreamBooking | None:
    """The active booking at [start, end] whose metadata carries our idempotency key, if any.

    Listed with each of the company's keys: Cal.com shows a key only its owner's bookings, and
    the host (round robin) is Cal.com's choice.
    """
    async for booking in _bookings_at(ctx, own):
        if booking.metadata.get("idempotency_key") == own.idempotency_key and booking.active:
            return booking
    return None


async def _bookings_at(ctx: ServiceContext, own: OwnBooking) -> AsyncIterator[UpstreamBooking]:
    """The bookings at [start, end] for the attendee, listed with each of the company's keys in
    turn (lazily: a caller that found what it looks for lists no further)."""
    for key in own.list_keys:
        bookings = await ctx.calcom.list_bookings(
            key,
            after_start=own.start - timedelta(seconds=1),
            before_end=own.end + timedelta(seconds=1),
            attendee_email=own.attendee_email,
            page_size=ctx.settings.calcom_list_page_size,
        )
        for booking in bookings:
            yield booking


async def own_booking_after_refusal(ctx: ServiceContext, own: OwnBooking) -> UpstreamBooking | None:
    """After refusing what Cal.com answered: did our create commit anyway (a corrupted answer)?

    Part of `ambiguous_create_lookup`; only a booking carrying our idempotency key is adopted, so
    an answer about someone else's booking (the stale cases) never is. Raises `CalcomError`
    when Cal.com could not be asked: whether the refusal stands is then the flow's call (an
    answer that may be our own booking, stripped of its proof, leaves the outcome unknown).
    """
    if not looks_for_own_booking(ctx):
        return None
    found = await find_own_booking(ctx, own)
    if found is not None:
        ctx.metrics.ambiguous_creates.labels(operation="create", resolution="adopted").inc()
    return found


async def this_calls_booking(
    ctx: ServiceContext, own: OwnBooking, call_id: str, event_type_id: int
) -> UpstreamBooking | None:
    """Part of `ambiguous_create_lookup`: Cal.com says the slot is taken — by this very call?

    A first attempt whose service died between Cal.com's yes and its own insert left a booking
    carrying the call's id and nothing on our side; the caller calling again must hear "booked",
    not "taken" (else they are booked without knowing it until reconciliation). Only an active
    booking at exactly this start, of this event type, carrying this call id is adopted.
    """
    if not looks_for_own_booking(ctx):
        return None
    async for booking in _bookings_at(ctx, own):
        if (booking.active and booking.start == own.start
                and booking.event_type_id == event_type_id
                and booking.metadata.get("call_id") == call_id):
            ctx.metrics.ambiguous_creates.labels(operation="create", resolution="adopted").inc()
            return booking
    return None


# --- webhooks: webhook_signature, webhook_dedupe, webhook_ordering ------------------------------

#: Appointment status precedence: a delivery never moves a booking to a lower one.
PRECEDENCE = {"pending": 0, "scheduled": 1, "cancelled": 2, "rescheduled": 2}


def signature_valid(secret: str, raw: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a no).
    given = header.strip().lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(expected.encode("ascii"), given)


@dataclass(frozen=True)
class Signer:
    """Whose secret signed a delivery: a tenant's own (`company_id`), or the shared one (None)."""

    company_id: int | None = None
    checked: bool = True


def signature_accepted(ctx: ServiceContext, raw: bytes, header: str | None) -> Signer | None:
    """`webhook_signature`: accept a delivery only with a valid `X-Cal-Signature-256` (hex
    HMAC-SHA256 of the raw body) under a tenant's own secret or the shared one; the receiver
    answers 401 otherwise (None). A tenant's secret names the tenant the delivery may touch.

    seeds/001 §1.3: a forged delivery could cancel any appointment. Off: any delivery accepted.
    """
    if not ctx.defenses.webhook_signature:
        return Signer(checked=False)
    for company in ctx.tenants.companies:
        if company.webhook_secret and signature_valid(company.webhook_secret, raw, header):
            return Signer(company.id)
    if signature_valid(ctx.settings.webhook_secret, raw, header):
        return Signer()
    return None


def dedupes_deliveries(ctx: ServiceContext) -> bool:
    """`webhook_dedupe`: each delivery takes effect once. Its `delivery_row` (sha256 of the raw
    body, UNIQUE in `processed_webhooks`) goes in with its effect, in one transaction.

    Duplicate webhook deliveries (seeds/001 §1.3): Cal.com delivers again when unsure, and a
    BOOKING_RESCHEDULED applied twice moves a booking twice. Off: applied every time.
    """
    return ctx.defenses.webhook_dedupe


def delivery_row(
    ctx: ServiceContext, key: str, event: str, uid: str | None, outcome: str
) -> ProcessedWebhook:
    """`webhook_dedupe`: the row whose UNIQUE `delivery_key` makes a second copy fail to insert."""
    return ProcessedWebhook(
        delivery_key=key,
        trigger_event=event,
        booking_uid=uid,
        outcome=outcome,
        processed_at=ctx.now(),
    )


async def delivery_seen(ctx: ServiceContext, key: str) -> bool:
    """`webhook_dedupe`, after a UNIQUE violation: was it this delivery's own row (a copy)?"""
    async with ctx.db.read() as session:
        found = await session.execute(
            sa.select(ProcessedWebhook.id).where(ProcessedWebhook.delivery_key == key)
        )
        return found.first() is not None


def moves_backwards(
    ctx: ServiceContext, appointment: Appointment, status: str, upstream_at: datetime | None
) -> bool:
    """`webhook_ordering`: would the delivered status move the appointment backwards?

    The database drifting from Cal.com (seeds/001 §5.2): a late BOOKING_CREATED arriving after
    the BOOKING_CANCELLED revived a cancelled booking locally. Compares the status precedence,
    then Cal.com's `updatedAt` within one precedence. Off: the last delivery wins.
    """
    if not ctx.defenses.webhook_ordering:
        return False
    current = appointment.status
    if PRECEDENCE[status] < PRECEDENCE[current]:
        return True
    known = appointment.upstream_updated_at
    return bool(
        PRECEDENCE[status] == PRECEDENCE[current] and known and upstream_at and upstream_at < known
    )


async def cancelled_earlier(ctx: ServiceContext, session: AsyncSession, uid: str) -> bool:
    """`webhook_ordering`: a CANCELLED for this booking arrived before any appointment had it
    (its tombstone is there), so a late CREATED or RESCHEDULED must not import it."""
    return (
        ctx.defenses.webhook_ordering
        and await session.get(BookingTombstone, uid) is not None
    )


async def leave_tombstone(
    ctx: ServiceContext,
    session: AsyncSession,
    uid: str,
    upstream_updated_at: datetime | None,
    key: str,
) -> bool:
    """`webhook_ordering`: a CANCELLED for a booking no appointment holds leaves a tombstone
    (once), which `cancelled_earlier` finds. False when off: nothing remembered."""
    if not ctx.defenses.webhook_ordering:
        return False
    if await session.get(BookingTombstone, uid) is None:
        session.add(
            BookingTombstone(
                booking_uid=uid,
                status="cancelled",
                upstream_updated_at=upstream_updated_at,
                delivery_key=key,
                created_at=ctx.now(),
            )
        )
    return True


# --- the read API: tenant_isolation --------------------------------------------------------------

Columns = TypeVarTuple("Columns")


def tenant_scoped(
    ctx: ServiceContext,
    query: sa.Select[*Columns],
    company_column: InstrumentedAttribute[int],
    company_id: int,
) -> sa.Select[*Columns]:
    """`tenant_isolation`: every read of the tenant API is filtered by the key's company, so
    another tenant's record is a 404 exactly like one that does not exist.

    seeds/001 §6.2/§6.3 ("zero multi-tenant data leakage"): company B's key must not read company
    A's appointments or customers, by id, list or search. Off: reads not scoped.
    """
    if not ctx.defenses.tenant_isolation:
        return query
    return query.where(company_column == company_id)


def foreign_to_delivery(ctx: ServiceContext, company_id: int, delivery_company_id: int | None) -> bool:
    """`tenant_isolation`: a webhook delivery touches only bookings of the tenant it carries (its
    event type's, or the one whose own secret signed it): a `BOOKING_RESCHEDULED` for Berlin's
    event type whose `rescheduleUid` names Hamburg's booking must leave that booking alone.

    Issue 14: such a delivery marked the other tenant's booking rescheduled and tied a new
    appointment to its customer and call. Off: a delivery touches any booking it names.
    """
    if not ctx.defenses.tenant_isolation or delivery_company_id is None:
        return False
    return company_id != delivery_company_id


# --- the switch table ------------------------------------------------------------------------------


class Switch(NamedTuple):
    """Where a defense acts: the functions above that read its switch or apply it, and the
    service's functions that call them (relative to `booking_service`): what the ablation takes
    away when the defense is off. (The embedded harness also re-applies the two structural ones,
    the index and the slot locks, when it switches defenses between scenarios.)"""

    functions: tuple[Callable[..., Any], ...]
    called_from: tuple[str, ...]


async def switch_running(ctx: ServiceContext, wanted: Defenses) -> None:
    """Switch the defenses of a running service (test control, between scenarios): the flags,
    and the two that are structure — the unique index and the slot-lock implementation."""
    if ctx.settings.defenses.unique_constraint != wanted.unique_constraint:
        await apply_unique_constraint_mode(ctx.engine, wanted.unique_constraint)
    ctx.settings.defenses = wanted
    ctx.slot_locks = slot_locks_for(ctx.engine, enabled=wanted.slot_lock,
                                    timeout_s=ctx.settings.slot_lock_timeout_s,
                                    connections=ctx.settings.slot_lock_connections)


def switched(ctx: ServiceContext) -> dict[str, bool]:
    """Every defense by name: on or off (what test control reports)."""
    return ctx.settings.defenses.as_dict()


SWITCHES: dict[str, Switch] = {
    "freshness": Switch((freshness, check_returned_booking), ("flows.booking._create_checked", "flows.changes._reschedule_holding_slot")),
    "call_id_match": Switch((call_id_match, check_returned_booking), ("flows.booking._create_checked", "flows.changes._reschedule_holding_slot")),
    "attendee_match": Switch((attendee_match, check_returned_booking), ("flows.booking._create_checked", "flows.changes._reschedule_holding_slot")),
    "uid_duplicate_check": Switch((uid_already_held,), ("flows.booking._insert", "flows.changes._apply_reschedule")),
    "unique_constraint": Switch((apply_unique_constraint_mode, uid_holder), ("context.open_context", "flows.booking._insert", "flows.changes._apply_reschedule")),
    "availability_double_check": Switch((double_check, DoubleCheck.local_conflict, overbooked_by), ("flows.booking._check_slot_again", "flows.changes._check_new_slot", "flows.booking._yield_if_overbooked")),
    "slot_lock": Switch((slot_locks_for, hold_slot), ("context.open_context", "flows.booking._collect", "flows.changes._reschedule")),
    "ambiguous_create_lookup": Switch((looks_for_own_booking, own_booking_after_refusal), ("flows.upstream.write_once", "flows.booking._create_checked")),
    "webhook_signature": Switch((signature_accepted,), ("flows.webhooks.handle_delivery",)),
    "webhook_dedupe": Switch((dedupes_deliveries, delivery_row, delivery_seen), ("flows.webhooks._record_only", "flows.webhooks._apply")),
    "webhook_ordering": Switch((moves_backwards, cancelled_earlier, leave_tombstone), ("flows.webhooks._plan_import", "flows.webhooks._execute", "flows.webhooks._reschedule", "flows.webhooks._transition")),
    "tenant_isolation": Switch((tenant_scoped, foreign_to_delivery), ("api.list_appointments", "api.get_appointment", "api.search_customers", "flows.webhooks._may_touch")),
}
