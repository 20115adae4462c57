"""`check-availability`: is the slot free at Cal.com, and what else is free nearby."""

from __future__ import annotations

from typing import Any

from booking_service.calcom.errors import CalcomError
from booking_service.context import ServiceContext
from booking_service.flows.answers import answer, refusal_answer, slot_json
from booking_service.flows.refusals import Refusal, calcom_refusal
from booking_service.flows.requests import RetellRequest, find_service, parse_start, resolve_tenant
from booking_service.flows.slots import free_slots, pick_alternatives

CHECK_STATUSES_FROM_WRITE = {
    "timeout": "upstream_unavailable",
    "rate_limited": "upstream_unavailable",
}


async def check_availability(ctx: ServiceContext, body: object) -> dict[str, Any]:
    try:
        return await _check(ctx, body)
    except Refusal as refusal:
        status = CHECK_STATUSES_FROM_WRITE.get(refusal.status, refusal.status)
        if status in ("slot_taken", "race_condition_detected"):
            status = "unavailable"
        extra: dict[str, Any] = {"available": False}
        if refusal.start is not None:
            extra["requested"] = slot_json(refusal.start, ctx.settings.timezone)
        return refusal_answer(ctx, refusal, status=status, **extra)


async def _check(ctx: ServiceContext, body: object) -> dict[str, Any]:
    request = RetellRequest.parse(body)
    datum = request.required("datum")
    uhrzeit = request.required("uhrzeit")
    spoken_service = request.text("dienstleistung")
    request.call_id()  # required by the contract; also validates its shape
    company, branch = resolve_tenant(ctx, request)
    service = find_service(branch, spoken_service, required=False)
    start = parse_start(ctx, datum, uhrzeit)
    try:
        free = await free_slots(
            ctx, company, service, start, days=ctx.settings.alternatives_days + 1
        )
    except CalcomError as exc:
        raise calcom_refusal(exc, start=start, read=True) from exc
    available = start in free
    alternatives = (
        []
        if available
        else pick_alternatives(
            free, start, ctx.now(), ctx.settings.timezone, ctx.settings.max_alternatives
        )
    )
    return answer(
        ctx,
        "available" if available else "unavailable",
        success=True,
        start=start,
        alternatives=alternatives,
        available=available,
        requested=slot_json(start, ctx.settings.timezone),
        service=service.name,
    )
