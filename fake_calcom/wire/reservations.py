"""Slot reservations: the 2024-09-04 `/v2/slots/reservations…` family and the older
`POST /v2/slots/reserve` + `DELETE /v2/slots/selected-slot` (2024-04-15 … 2024-08-13).

A reservation really holds its slot in the backend: others see it busy in `/v2/slots` and their
creates for it are refused (409) until it expires on the fake's clock or is released.
"""

from __future__ import annotations

from aiohttp import web

from fake_calcom.backend.errors import Unauthorized
from fake_calcom.wire.common import (
    V2024_09_04,
    Answer,
    Ctx,
    authenticate,
    ctx_of,
    reservation_cookie,
    state_of,
    success,
)
from fake_calcom.wire.fault_actions import fire, take_for_reservation
from fake_calcom.wire.serializers import reservation_2024_09_04
from fake_calcom.wire.state import FakeState
from fake_calcom.wire.validation import ReserveInput, legacy_reserve_body, reserve_body

DURATION_NEEDS_AUTH = (
    "reservationDuration can only be used for authenticated requests - use access token, api key or "
    "OAuth credentials"
)


def _require_2024_09_04(ctx: Ctx) -> None:
    if ctx.route_version != V2024_09_04:
        # Other versions reach the 2024-04-15 slots controller, which has no such route.
        raise web.HTTPNotFound()


def _faults(state: FakeState, ctx: Ctx, parsed: ReserveInput) -> tuple[bool, float | None, str | None]:
    """(check_booked, expire_after_s, fault name) for the reservation faults of this request."""
    check_booked, expire_after_s, names = True, None, []
    if ctx.reserve_taken is not None and take_for_reservation(
        ctx.reserve_taken, state, parsed.event_type_id, parsed.start
    ):
        check_booked = False
        fire(ctx.reserve_taken, ctx)
        names.append(ctx.reserve_taken.name)
    if ctx.expire_early is not None:
        expire_after_s = float(ctx.expire_early.action.get("after_s", 0))
        fire(ctx.expire_early, ctx)
        names.append(ctx.expire_early.name)
    return check_booked, expire_after_s, ",".join(names) or None


async def create_reservation(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    _require_2024_09_04(ctx)
    state = state_of(request)
    owner = authenticate(request, required=False)
    parsed = reserve_body(ctx.json())
    if parsed.reservation_minutes and owner is None:
        raise Unauthorized(DURATION_NEEDS_AUTH)
    check_booked, expire_after_s, fault = _faults(state, ctx, parsed)
    reservation = state.backend.reserve(
        event_type_id=parsed.event_type_id,
        start=parsed.start,
        slot_duration=parsed.slot_duration,
        reservation_minutes=parsed.reservation_minutes,
        owner_id=owner.id if owner else None,
        check_booked=check_booked,
        expire_after_s=expire_after_s,
        fault=fault,
    )
    return success(reservation_2024_09_04(reservation), 201)


async def get_reservation(request: web.Request) -> Answer:
    """Cal.com answers 200 with `data: null` for a uid it does not know."""
    _require_2024_09_04(ctx_of(request))
    reservation = state_of(request).backend.reservations.get(request.match_info["uid"])
    return success(reservation_2024_09_04(reservation, created=False) if reservation else None)


async def update_reservation(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    _require_2024_09_04(ctx)
    state = state_of(request)
    parsed = reserve_body(ctx.json())
    check_booked, expire_after_s, fault = _faults(state, ctx, parsed)
    reservation = state.backend.update_reservation(
        request.match_info["uid"],
        event_type_id=parsed.event_type_id,
        start=parsed.start,
        slot_duration=parsed.slot_duration,
        reservation_minutes=parsed.reservation_minutes,
        check_booked=check_booked,
        expire_after_s=expire_after_s,
        fault=fault,
    )
    return success(reservation_2024_09_04(reservation))


async def delete_reservation(request: web.Request) -> Answer:
    _require_2024_09_04(ctx_of(request))
    state_of(request).backend.release_reservation(request.match_info["uid"])
    return Answer(200, {"status": "success"})


# --------------------------------------------------------------------------- 2024-04-15


def _require_legacy(ctx: Ctx) -> None:
    if ctx.route_version == V2024_09_04:
        raise web.HTTPNotFound()  # the 2024-09-04 controller has no /reserve or /selected-slot


async def reserve_legacy(request: web.Request) -> Answer:
    """`{"status":"success","data":"<uid>"}`, 201, and the uid as the `uid` cookie."""
    ctx = ctx_of(request)
    _require_legacy(ctx)
    state = state_of(request)
    parsed = legacy_reserve_body(ctx.json())
    expire_after_s = None
    fault = None
    if ctx.expire_early is not None:
        expire_after_s = float(ctx.expire_early.action.get("after_s", 0))
        fire(ctx.expire_early, ctx)
        fault = ctx.expire_early.name
    reservation = state.backend.reserve_legacy(
        event_type_id=parsed.event_type_id,
        start=parsed.start,
        end=parsed.end,
        uid=reservation_cookie(request),
        expire_after_s=expire_after_s,
        fault=fault,
    )
    answer = success(reservation.uid, 201)
    answer.headers["Set-Cookie"] = f"uid={reservation.uid}; Path=/"
    return answer


async def delete_selected_slot(request: web.Request) -> Answer:
    """The `uid` cookie, else `?uid=`; no error when there is nothing to delete."""
    _require_legacy(ctx_of(request))
    uid = reservation_cookie(request) or request.query.get("uid")
    if uid:
        state_of(request).backend.release_reservation(uid)
    return Answer(200, {"status": "success"})
