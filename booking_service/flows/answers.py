"""The voice agent's answers: a status, a German message, and the slots the message names."""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from booking_service.calcom.models import iso_z
from booking_service.context import ServiceContext
from booking_service.db import DATABASE_DOWN
from booking_service.flows.refusals import Refusal, database_busy, database_unavailable
from booking_service.german_datetime import format_datum, format_uhrzeit
from booking_service.messages import message


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
        except DATABASE_DOWN as exc:
            raise database_unavailable(exc) from exc
    except Refusal as refusal:
        return refusal_answer(ctx, refusal, success=refusal.status in success)
