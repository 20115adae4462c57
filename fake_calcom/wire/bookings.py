"""`/v2/bookings…`: create, get, list, cancel, reschedule (2024-08-13 and the 2024-04-15 shapes)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from aiohttp import web

from fake_calcom.backend.errors import BadRequest, NotFound
from fake_calcom.backend.models import Booking, EventType
from fake_calcom.backend.store import Backend
from fake_calcom.wire.common import (
    V2024_08_13,
    Answer,
    authenticate,
    ctx_of,
    query_dict,
    reservation_cookie,
    state_of,
    success,
)
from fake_calcom.wire.fault_actions import cancel_race
from fake_calcom.wire.serializers import booking_2024_04_15, booking_2024_08_13
from fake_calcom.wire.validation import (
    Problems,
    cancel_body,
    create_2024_04_15,
    create_2024_08_13,
    decline_body,
    query_int,
    query_iso,
    reschedule_body,
    unknown_query,
)

LENGTH_MESSAGE = (
    "Can't specify 'lengthInMinutes' because event type does not have multiple possible lengths. "
    "Please, remove the 'lengthInMinutes' field from the request or add multiple possible lengths "
    "to the event type."
)


def _resolve_event_type(backend: Backend, event_type_id: int | None, slug: str | None,
                        username: str | None, team_slug: str | None) -> EventType:
    if event_type_id is not None:
        event_type = backend.event_type(event_type_id)
        if event_type is None:
            raise NotFound(f"Event type with id {event_type_id} not found.")
        return event_type
    event_type = backend.event_type_by_slug(slug or "", username)
    if event_type is None or (team_slug is not None and not event_type.is_team):
        owner = f"user {username}" if username else f"team {team_slug}"
        raise NotFound(f"Event type with slug {slug} belonging to {owner} not found.")
    return event_type


async def create_booking(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    state = state_of(request)
    backend = state.backend
    legacy = ctx.route_version != V2024_08_13
    ctx.legacy_errors = legacy
    owner = authenticate(request, required=False)
    body = ctx.json()
    parsed = create_2024_04_15(body) if legacy else create_2024_08_13(body)
    event_type = _resolve_event_type(
        backend, parsed.event_type_id, parsed.event_type_slug, parsed.username, parsed.team_slug
    )
    if parsed.wants_length:
        raise BadRequest(LENGTH_MESSAGE)
    create = parsed.request
    create.event_type_id = event_type.id
    create.api_key_owner = owner.id if owner else None
    if create.reserved_slot_uid is None:
        create.reserved_slot_uid = reservation_cookie(request)
    if parsed.end is not None and create.length != event_type.length:
        raise BadRequest("Invalid event length", reason="invalid_event_length")
    if legacy and parsed.reschedule_uid:
        # 2024-04-15 clients reschedule by creating with `rescheduleUid`.
        overbook = ctx.overbook is not None
        if overbook:
            ctx.overbook.fired += 1  # type: ignore[union-attr]
        new = backend.reschedule(
            parsed.reschedule_uid,
            create.start,
            rescheduled_by=parsed.rescheduled_by,
            overbook=overbook,
            api_key_owner=create.api_key_owner,
            reserved_slot_uid=create.reserved_slot_uid,
        )
        return success(booking_2024_04_15(new, backend), 201)
    result = await state.create(create, ctx)
    if legacy:
        return success(booking_2024_04_15(result.booking, backend), 201)
    return success(booking_2024_08_13(result.booking, backend), 201)


def _legacy_lookup(backend: Backend, uid: str) -> Booking:
    booking = backend.bookings.get(uid)
    if booking is None:
        raise NotFound(f"Booking with UID={uid} does not exist.")
    return booking


async def get_booking(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    backend = state_of(request).backend
    uid = request.match_info["uid"]
    authenticate(request, required=False)
    if ctx.route_version != V2024_08_13:
        return success(booking_2024_04_15(_legacy_lookup(backend, uid), backend))
    return success(booking_2024_08_13(backend.get_booking(uid), backend))


async def cancel_booking(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    backend = state_of(request).backend
    uid = request.match_info["uid"]
    caller = authenticate(request, required=False)
    legacy = ctx.route_version != V2024_08_13
    body = ctx.json()
    reason = cancel_body(body, legacy=legacy)
    if legacy:
        if uid.isdigit():
            raise BadRequest("Please provide booking uid instead of booking id.")
        _legacy_lookup(backend, uid)
        booking = backend.cancel(uid, reason=reason, caller=caller)
        # The 2024-04-15 route has no @HttpCode, so Nest answers a POST with 201.
        return success({"bookingId": booking.id, "bookingUid": booking.uid, "onlyRemovedAttendee": False}, 201)
    booking = backend.cancel(uid, reason=reason, caller=caller)
    return success(booking_2024_08_13(booking, backend), 200)


async def reschedule_booking(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    if ctx.route_version != V2024_08_13:
        raise web.HTTPNotFound()  # only the 2024-08-13 controller has this route
    backend = state_of(request).backend
    uid = request.match_info["uid"]
    caller = authenticate(request, required=False)
    parsed = reschedule_body(ctx.json())
    overbook = ctx.overbook is not None
    if overbook:
        ctx.overbook.fired += 1  # type: ignore[union-attr]
    new = backend.reschedule(
        uid,
        parsed.start,
        rescheduled_by=parsed.rescheduled_by,
        reason=parsed.reason,
        overbook=overbook,
        api_key_owner=caller.id if caller else None,
        reserved_slot_uid=parsed.reserved_slot_uid or reservation_cookie(request),
    )
    return success(booking_2024_08_13(new, backend), 201)


async def confirm_booking(request: web.Request) -> Answer:
    """POST /v2/bookings/{uid}/confirm (2024-08-13): the host accepts a pending booking."""
    return await _confirm_or_decline(request, confirmed=True)


async def decline_booking(request: web.Request) -> Answer:
    """POST /v2/bookings/{uid}/decline (2024-08-13): the host rejects it, with a reason."""
    return await _confirm_or_decline(request, confirmed=False)


async def _confirm_or_decline(request: web.Request, *, confirmed: bool) -> Answer:
    ctx = ctx_of(request)
    if ctx.route_version != V2024_08_13:
        raise web.HTTPNotFound()  # only the 2024-08-13 controller has these routes
    state = state_of(request)
    backend = state.backend
    uid = request.match_info["uid"]
    caller = authenticate(request, required=True, permissions=True)
    assert caller is not None
    reason = None if confirmed else decline_body(ctx.json())
    race = ctx.cancel_race
    if race is not None and race.phase == "before":
        cancel_race(race, state, ctx, uid)
    booking = backend.confirm(uid, caller) if confirmed else backend.decline(uid, caller, reason)
    answer = success(booking_2024_08_13(booking, backend), 200)
    if race is not None and race.phase == "after":
        cancel_race(race, state, ctx, uid)
    return answer


# --------------------------------------------------------------------------- list

LIST_QUERY = frozenset(
    {
        "status",
        "attendeeEmail",
        "attendeeName",
        "bookingUid",
        "eventTypeIds",
        "eventTypeId",
        "teamsIds",
        "teamId",
        "afterStart",
        "beforeEnd",
        "afterCreatedAt",
        "beforeCreatedAt",
        "afterUpdatedAt",
        "beforeUpdatedAt",
        "sortStart",
        "sortEnd",
        "sortCreated",
        "sortUpdatedAt",
        "take",
        "skip",
    }
)
LIST_STATUSES = frozenset({"upcoming", "recurring", "past", "cancelled", "unconfirmed"})


def _status_filter(names: list[str], booking: Booking, now: datetime) -> bool:
    for name in names:
        if name == "upcoming" and booking.end >= now and booking.status in ("accepted", "pending"):
            return True
        if name == "unconfirmed" and booking.end >= now and booking.status == "pending":
            return True
        if name == "past" and booking.end <= now and booking.status not in ("cancelled", "rejected"):
            return True
        if name == "cancelled" and booking.status in ("cancelled", "rejected"):
            return True
    return False


def _int_list(text: str, key: str, problems: Problems) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        problems.add(key, f"{key} must be a comma separated list of integers")
        return []


def _filter(bookings: list[Booking], query: dict[str, str], problems: Problems, now: datetime) -> list[Booking]:
    if "status" in query:
        names = [s.strip() for s in query["status"].split(",") if s.strip()]
        if any(n not in LIST_STATUSES for n in names):
            problems.add("status", "each value in status must be one of the following values: upcoming, recurring, past, cancelled, unconfirmed")
        bookings = [b for b in bookings if _status_filter(names, b, now)]
    if "attendeeEmail" in query:
        email = query["attendeeEmail"].lower()
        bookings = [b for b in bookings if any(a.email.lower() == email for a in b.attendees)]
    if "attendeeName" in query:
        name = query["attendeeName"].lower()
        bookings = [b for b in bookings if any(name in a.name.lower() for a in b.attendees)]
    if "bookingUid" in query:
        bookings = [b for b in bookings if b.uid == query["bookingUid"]]
    ids: list[int] = []
    if "eventTypeIds" in query:
        ids += _int_list(query["eventTypeIds"], "eventTypeIds", problems)
    if "eventTypeId" in query:
        ids += _int_list(query["eventTypeId"], "eventTypeId", problems)
    if ids:
        bookings = [b for b in bookings if b.event_type_id in ids]
    for key, attr, after in (
        ("afterStart", "start", True),
        ("beforeEnd", "end", False),
        ("afterCreatedAt", "created_at", True),
        ("beforeCreatedAt", "created_at", False),
        ("afterUpdatedAt", "updated_at", True),
        ("beforeUpdatedAt", "updated_at", False),
    ):
        moment = query_iso(query, key, problems)
        if moment is not None:
            bookings = [b for b in bookings if (getattr(b, attr) >= moment if after else getattr(b, attr) <= moment)]
    return bookings


def _sort(bookings: list[Booking], query: dict[str, str], problems: Problems) -> list[Booking]:
    for key, attr in (("sortStart", "start"), ("sortEnd", "end"), ("sortCreated", "created_at"), ("sortUpdatedAt", "updated_at")):
        if key in query:
            direction = query[key]
            if direction not in ("asc", "desc"):
                problems.add(key, f"{key} must be one of the following values: asc, desc")
                continue
            return sorted(bookings, key=lambda b: (getattr(b, attr), b.id), reverse=direction == "desc")
    return sorted(bookings, key=lambda b: (b.start, b.id))


async def list_bookings(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    state = state_of(request)
    backend = state.backend
    owner = authenticate(request, required=True, permissions=True)
    assert owner is not None
    query = query_dict(request)
    now = state.clock.now()
    if ctx.route_version != V2024_08_13:
        return _list_2024_04_15(backend, owner.id, query, now)
    problems = Problems()
    unknown_query(query, LIST_QUERY, problems)
    take = query_int(query, "take", problems, minimum=1, maximum=250)
    skip = query_int(query, "skip", problems, minimum=0)
    bookings = _filter(backend.list_bookings(owner.id), query, problems, now)
    bookings = _sort(bookings, query, problems)
    problems.raise_if_any()
    take = 100 if take is None else take
    skip = skip or 0
    page = bookings[skip : skip + take]
    total = len(bookings)
    pages = math.ceil(total / take) if take else 0
    current = skip // take + 1 if take else 1
    pagination = {
        "itemsReturned": len(page),
        "totalItems": total,
        "itemsPerPage": take,
        "remainingItems": max(0, total - skip - len(page)),
        "currentPage": current,
        "totalPages": pages,
        "hasNextPage": skip + len(page) < total,
        "hasPreviousPage": skip > 0,
    }
    return success([booking_2024_08_13(b, backend) for b in page], pagination=pagination)


LEGACY_STATUS = {"upcoming", "recurring", "past", "cancelled", "unconfirmed"}


def _list_2024_04_15(backend: Backend, owner_id: int, query: dict[str, str], now: datetime) -> Answer:
    """`data.bookings` with `filters[...]`, `limit` and `cursor` (unknown params stripped)."""
    problems = Problems()
    status = query.get("filters[status]", "upcoming")
    if status not in LEGACY_STATUS:
        problems.add("filters", "status must be one of the following values: upcoming, recurring, past, cancelled, unconfirmed")
    limit = query_int(query, "limit", problems, minimum=1, maximum=100)
    cursor = query_int(query, "cursor", problems, minimum=0)
    problems.raise_if_any()
    bookings = [b for b in backend.list_bookings(owner_id) if _status_filter([status], b, now)]
    if "filters[attendeeEmail]" in query:
        email = query["filters[attendeeEmail]"].lower()
        bookings = [b for b in bookings if any(a.email.lower() == email for a in b.attendees)]
    if "filters[attendeeName]" in query:
        name = query["filters[attendeeName]"].lower()
        bookings = [b for b in bookings if any(name in a.name.lower() for a in b.attendees)]
    if "filters[eventTypeIds]" in query:
        ids = _int_list(query["filters[eventTypeIds]"], "filters", problems)
        problems.raise_if_any()
        bookings = [b for b in bookings if b.event_type_id in ids]
    bookings.sort(key=lambda b: (b.start, b.id))
    skip = cursor or 0
    take = limit or 10
    page = bookings[skip : skip + take]
    next_cursor = skip + take if len(bookings) > skip + take else None
    data: dict[str, Any] = {
        "bookings": [booking_2024_04_15(b, backend) for b in page],
        "recurringInfo": [],
        "totalCount": len(bookings),
        "nextCursor": next_cursor,
    }
    return success(data)
