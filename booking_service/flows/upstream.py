"""Writes to Cal.com that must not happen twice: create and reschedule (and cancel).

A create that timed out, was reset, answered 5xx or an unreadable body may have committed.
Retrying it blindly can book the slot a second time or, for a plain event type, be refused
because our own first booking now holds the slot — the caller is told "taken" while a booking
for them exists (a lost booking). The `ambiguous_create_lookup` defense looks before it retries:
it lists Cal.com's bookings for that attendee and start and adopts the one whose
`metadata.idempotency_key` is ours (`defenses.find_own_booking`). It looks, too, before believing
a refusal (or an answer the service refuses): those can arrive after Cal.com committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from booking_service import defenses
from booking_service.calcom.errors import CalcomError, CalcomRequestError, CalcomUnavailable
from booking_service.calcom.models import UpstreamBooking
from booking_service.context import ServiceContext
from booking_service.defenses import OwnBooking
from booking_service.flows.refusals import OutcomeUnknown

log = logging.getLogger(__name__)


async def write_once(
    ctx: ServiceContext,
    *,
    operation: str,
    endpoint: str,
    send: Callable[[], Awaitable[UpstreamBooking]],
    find: Callable[[bool], Awaitable[UpstreamBooking | None]],
) -> UpstreamBooking:
    """Send a write, retrying transient failures; never send it twice after an ambiguous failure
    without looking first (`find(after_ambiguous)`: our own result at Cal.com, if any).

    Raises `CalcomError` for definite failures and `OutcomeUnknown` when the write may have
    happened but its result could not be found (the caller must not be told "not done").
    """
    lookup = defenses.looks_for_own_booking(ctx)
    metrics = ctx.metrics.ambiguous_creates
    unresolved: CalcomUnavailable | None = None

    async def own_result() -> UpstreamBooking | None:
        try:
            found = await find(unresolved is not None)
        except CalcomError as exc:
            metrics.labels(operation=operation, resolution="lookup_failed").inc()
            if unresolved is not None:
                raise OutcomeUnknown(unresolved) from exc
            return None
        if found is not None:
            metrics.labels(operation=operation, resolution="adopted").inc()
            log.info("%s resolved by lookup: adopted booking %s", operation, found.uid)
        return found

    last: CalcomError | None = None
    for number in range(ctx.settings.retry_attempts + 1):
        if number:
            await ctx.clock.sleep(ctx.backoff.delay(number - 1))
            if unresolved is not None and lookup:
                found = await own_result()
                if found is not None:
                    return found
                metrics.labels(operation=operation, resolution="not_found_retry").inc()
            elif unresolved is not None:
                metrics.labels(operation=operation, resolution="blind_retry").inc()
        try:
            return await send()
        except CalcomUnavailable as exc:
            last = exc
            if exc.ambiguous:
                unresolved = exc
            ctx.metrics.calcom_retries.labels(endpoint=endpoint, reason=exc.kind).inc()
            log.warning("%s failed (%s), attempt %d", operation, exc.kind, number + 1)
            continue
        except CalcomRequestError:
            # Cal.com said no. After an ambiguous attempt "taken" may mean: taken by our own first
            # booking; and a refusal can come back after a commit. Look before believing it.
            if lookup:
                found = await own_result()
                if found is not None:
                    return found
            raise
        except CalcomError as exc:  # circuit open, rate limited
            if unresolved is not None:
                raise OutcomeUnknown(unresolved) from exc
            raise
    assert last is not None
    if unresolved is not None:
        if lookup:
            found = await own_result()
            if found is not None:
                return found
        metrics.labels(operation=operation, resolution="unresolved").inc()
        raise OutcomeUnknown(unresolved)
    raise last


async def create_booking(
    ctx: ServiceContext, api_key: str, body: dict[str, Any], own: OwnBooking
) -> UpstreamBooking:
    """Create once (`write_once`), looking for our own booking by its idempotency key."""
    return await write_once(
        ctx,
        operation="create",
        endpoint="POST /v2/bookings",
        send=lambda: ctx.calcom.create_booking(api_key, body),
        find=lambda _after_ambiguous: defenses.find_own_booking(ctx, own),
    )


async def reschedule_booking(
    ctx: ServiceContext, api_key: str, uid: str, new_start: datetime, reason: str | None
) -> UpstreamBooking:
    """Reschedule once (`write_once`); after an ambiguous failure, follow `rescheduledToUid`.

    Only then: without an ambiguous attempt of ours, a move of the old booking was not ours.
    """

    async def moved(after_ambiguous: bool) -> UpstreamBooking | None:
        if not after_ambiguous:
            return None
        old = await ctx.calcom.get_booking(api_key, uid)
        if old is None or not old.rescheduled_to_uid:
            return None
        return await ctx.calcom.get_booking(api_key, old.rescheduled_to_uid)

    return await write_once(
        ctx,
        operation="reschedule",
        endpoint="POST /v2/bookings/{uid}/reschedule",
        send=lambda: ctx.calcom.reschedule_booking(api_key, uid, new_start, reason),
        find=moved,
    )


async def cancel_booking(ctx: ServiceContext, api_key: str, uid: str, reason: str) -> None:
    """Cancel at Cal.com; a retry after an unclear failure first checks whether it already happened."""
    for number in range(ctx.settings.retry_attempts + 1):
        if number:
            await ctx.clock.sleep(ctx.backoff.delay(number - 1))
            current = await ctx.calcom.get_booking(api_key, uid)
            if current is None or not current.active:
                return
        try:
            await ctx.calcom.cancel_booking(api_key, uid, reason)
            return
        except CalcomRequestError as exc:
            if exc.status == 404:
                log.warning("booking %s unknown at Cal.com; cancelling locally only", uid)
                return
            if exc.status in (400, 409):
                current = await ctx.calcom.get_booking(api_key, uid)
                if current is None or not current.active:
                    return  # already cancelled there
            if exc.status == 409 and number < ctx.settings.retry_attempts:
                continue  # a conflicting change in flight at Cal.com: the booking is still there
            raise
        except CalcomUnavailable as exc:
            if number == ctx.settings.retry_attempts:
                raise
            ctx.metrics.calcom_retries.labels(
                endpoint="POST /v2/bookings/{uid}/cancel", reason=exc.kind
            ).inc()
