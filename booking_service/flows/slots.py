"""Slots: a local day's bounds, Cal.com's free slots, the alternatives offered when a slot is
gone, and the moments around the slot lock (a rate-limit window waited for before it, a lock
not had in time)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from booking_service.calcom.errors import CalcomError
from booking_service.calcom.models import iso_z
from booking_service.context import ServiceContext
from booking_service.flows.refusals import OutcomeUnknown, Refusal, calcom_refusal
from booking_service.slot_lock import SlotLockBusy, SlotLockUnavailable
from booking_service.tenants import CompanyInfo, ServiceInfo

log = logging.getLogger(__name__)


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
