"""Writes to Cal.com that must not happen twice: create and reschedule.

A create that timed out, was reset, answered 5xx or an unreadable body may have committed.
Retrying it blindly can book the slot a second time or, for a plain event type, be refused
because our own first booking now holds the slot — the caller is told "taken" while a booking
for them exists (a lost booking). The `ambiguous_create_lookup` defense looks before it retries:
it lists Cal.com's bookings for that attendee and start and adopts the one whose
`metadata.idempotency_key` is ours. It looks, too, before believing a refusal (or an answer the
service refuses): those can arrive after Cal.com committed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from booking_service.calcom.errors import CalcomError, CalcomRequestError, CalcomUnavailable
from booking_service.calcom.models import UpstreamBooking
from booking_service.context import ServiceContext
from booking_service.flows.common import OutcomeUnknown

log = logging.getLogger(__name__)


async def find_own_booking(
    ctx: ServiceContext,
    list_keys: tuple[str, ...],
    *,
    idempotency_key: str,
    attendee_email: str | None,
    start: datetime,
    end: datetime,
) -> UpstreamBooking | None:
    """The active booking at [start, end] whose metadata carries our idempotency key, if any.

    Listed with each of the company's keys: Cal.com shows a key only its owner's bookings, and
    the host (round robin) is Cal.com's choice.
    """
    for key in list_keys:
        bookings = await ctx.calcom.list_bookings(
            key,
            after_start=start - timedelta(seconds=1),
            before_end=end + timedelta(seconds=1),
            attendee_email=attendee_email,
            page_size=ctx.settings.calcom_list_page_size,
        )
        for booking in bookings:
            if booking.metadata.get("idempotency_key") == idempotency_key and booking.active:
                return booking
    return None


async def create_booking(
    ctx: ServiceContext,
    api_key: str,
    body: dict[str, Any],
    *,
    list_keys: tuple[str, ...],
    idempotency_key: str,
    attendee_email: str | None,
    start: datetime,
    end: datetime,
) -> UpstreamBooking:
    """Create once, retrying transient failures; never create twice after an ambiguous failure.

    Raises `CalcomError` for definite failures and `OutcomeUnknown` when a booking may exist but
    could not be found (the caller must not be told "not booked").
    """
    lookup = ctx.defenses.ambiguous_create_lookup
    metrics = ctx.metrics
    unresolved: CalcomUnavailable | None = None

    async def own_booking() -> UpstreamBooking | None:
        try:
            found = await find_own_booking(
                ctx,
                list_keys,
                idempotency_key=idempotency_key,
                attendee_email=attendee_email,
                start=start,
                end=end,
            )
        except CalcomError as exc:
            metrics.ambiguous_creates.labels(operation="create", resolution="lookup_failed").inc()
            if unresolved is not None:
                raise OutcomeUnknown(unresolved) from exc
            return None
        if found is not None:
            metrics.ambiguous_creates.labels(operation="create", resolution="adopted").inc()
            log.info(
                "create resolved by lookup: adopted booking %s (ours by idempotency key)", found.uid
            )
        return found

    last: CalcomError | None = None
    for number in range(ctx.settings.retry_attempts + 1):
        if number:
            await ctx.clock.sleep(ctx.backoff.delay(number - 1))
            if unresolved is not None and lookup:
                found = await own_booking()
                if found is not None:
                    return found
                metrics.ambiguous_creates.labels(
                    operation="create", resolution="not_found_retry"
                ).inc()
            elif unresolved is not None:
                metrics.ambiguous_creates.labels(operation="create", resolution="blind_retry").inc()
        try:
            return await ctx.calcom.create_booking(api_key, body)
        except CalcomUnavailable as exc:
            last = exc
            if exc.ambiguous:
                unresolved = exc
            metrics.calcom_retries.labels(endpoint="POST /v2/bookings", reason=exc.kind).inc()
            log.warning("create booking failed (%s), attempt %d", exc.kind, number + 1)
            continue
        except CalcomRequestError:
            # Cal.com said no. After an ambiguous attempt "taken" may mean: taken by our own first
            # booking; and a refusal can come back after a commit. Look before believing it.
            if lookup:
                found = await own_booking()
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
            found = await own_booking()
            if found is not None:
                return found
        metrics.ambiguous_creates.labels(operation="create", resolution="unresolved").inc()
        raise OutcomeUnknown(unresolved)
    raise last


async def own_booking_after_refusal(
    ctx: ServiceContext,
    list_keys: tuple[str, ...],
    *,
    idempotency_key: str,
    attendee_email: str | None,
    start: datetime,
    end: datetime,
) -> UpstreamBooking | None:
    """After refusing what Cal.com answered: did our create commit anyway (a corrupted answer)?

    Part of `ambiguous_create_lookup`; only a booking carrying our idempotency key is adopted, so
    an answer about someone else's booking (the stale cases) never is.
    """
    if not ctx.defenses.ambiguous_create_lookup:
        return None
    try:
        found = await find_own_booking(
            ctx,
            list_keys,
            idempotency_key=idempotency_key,
            attendee_email=attendee_email,
            start=start,
            end=end,
        )
    except CalcomError:
        return None
    if found is not None:
        ctx.metrics.ambiguous_creates.labels(operation="create", resolution="adopted").inc()
    return found


async def reschedule_booking(
    ctx: ServiceContext, api_key: str, uid: str, new_start: datetime, reason: str | None
) -> UpstreamBooking:
    """Reschedule once; after an ambiguous failure, follow `rescheduledToUid` before retrying."""
    lookup = ctx.defenses.ambiguous_create_lookup
    metrics = ctx.metrics
    unresolved: CalcomUnavailable | None = None

    async def adopt() -> UpstreamBooking | None:
        assert unresolved is not None
        try:
            old = await ctx.calcom.get_booking(api_key, uid)
            if old is None or not old.rescheduled_to_uid:
                return None
            new = await ctx.calcom.get_booking(api_key, old.rescheduled_to_uid)
        except CalcomError as exc:
            metrics.ambiguous_creates.labels(
                operation="reschedule", resolution="lookup_failed"
            ).inc()
            raise OutcomeUnknown(unresolved) from exc
        if new is not None:
            metrics.ambiguous_creates.labels(operation="reschedule", resolution="adopted").inc()
        return new

    last: CalcomError | None = None
    for number in range(ctx.settings.retry_attempts + 1):
        if number:
            await ctx.clock.sleep(ctx.backoff.delay(number - 1))
            if unresolved is not None and lookup:
                found = await adopt()
                if found is not None:
                    return found
        try:
            return await ctx.calcom.reschedule_booking(api_key, uid, new_start, reason)
        except CalcomUnavailable as exc:
            last = exc
            if exc.ambiguous:
                unresolved = exc
            metrics.calcom_retries.labels(
                endpoint="POST /v2/bookings/{uid}/reschedule", reason=exc.kind
            ).inc()
            continue
        except CalcomRequestError:
            if unresolved is not None and lookup:
                found = await adopt()
                if found is not None:
                    return found
            raise
        except CalcomError as exc:
            if unresolved is not None:
                raise OutcomeUnknown(unresolved) from exc
            raise
    assert last is not None
    if unresolved is not None:
        if lookup:
            found = await adopt()
            if found is not None:
                return found
        raise OutcomeUnknown(unresolved)
    raise last


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
            if exc.status == 400:
                current = await ctx.calcom.get_booking(api_key, uid)
                if current is None or not current.active:
                    return  # already cancelled there
            raise
        except CalcomUnavailable as exc:
            if number == ctx.settings.retry_attempts:
                raise
            ctx.metrics.calcom_retries.labels(
                endpoint="POST /v2/bookings/{uid}/cancel", reason=exc.kind
            ).inc()
