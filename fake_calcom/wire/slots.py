"""`GET /v2/slots` (2024-09-04) and the legacy `GET /v2/slots/available`."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from fake_calcom.backend.errors import BadRequest, NotFound
from fake_calcom.backend.models import EventType
from fake_calcom.backend.slots import MAX_RANGE_DAYS
from fake_calcom.backend.store import Backend
from fake_calcom.backend.timefmt import is_bare_date, parse_iso, zone
from fake_calcom.wire.common import (
    V2024_09_04,
    Answer,
    ctx_of,
    query_dict,
    reservation_cookie,
    state_of,
    success,
)
from fake_calcom.wire.serializers import slots_2024_09_04, slots_legacy
from fake_calcom.wire.validation import Problems, query_int, unknown_query

SLOTS_QUERY = frozenset(
    {
        "start",
        "end",
        "eventTypeId",
        "eventTypeSlug",
        "username",
        "teamSlug",
        "organizationSlug",
        "usernames",
        "timeZone",
        "duration",
        "format",
        # The OpenAPI document (and the controller's Swagger text) call it `slotFormat`; the
        # input class calls it `format`. We accept both so clients written from either work.
        "slotFormat",
        "bookingUidToReschedule",
        "rrHostSubsetIds",
    }
)


def _bound(query: dict[str, str], key: str, problems: Problems, *, end_of_day: bool) -> datetime | None:
    text = query.get(key)
    if text is None:
        problems.add(key, f"{key} must be a valid ISO 8601 date string")
        return None
    try:
        moment = parse_iso(text)
    except ValueError:
        problems.add(key, f"{key} must be a valid ISO 8601 date string")
        return None
    if end_of_day and is_bare_date(text):
        moment += timedelta(days=1) - timedelta(milliseconds=1)
    return moment


def _event_type(backend: Backend, query: dict[str, str], problems: Problems) -> EventType | None:
    event_type_id = query_int(query, "eventTypeId", problems)
    slug = query.get("eventTypeSlug")
    problems.raise_if_any()
    if event_type_id is not None:
        event_type = backend.event_type(event_type_id)
        if event_type is None:
            raise NotFound(f"Event Type with id={event_type_id} not found")
        return event_type
    if slug and (query.get("username") or query.get("teamSlug")):
        event_type = backend.event_type_by_slug(slug, query.get("username"))
        if event_type is None:
            raise NotFound(f"Event Type with slug={slug} not found")
        return event_type
    if "usernames" in query:
        raise BadRequest("Dynamic event types for several usernames are not supported by this fake.")
    raise BadRequest(
        "Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug or usernames + "
        "organizationSlug must be provided"
    )


def _check_range(first: datetime, last: datetime, message: str) -> None:
    if last < first:
        raise BadRequest(message)
    if last - first > timedelta(days=MAX_RANGE_DAYS):
        raise BadRequest(f"The time range can span at most {MAX_RANGE_DAYS} days.")


async def get_slots(request: web.Request) -> Answer:
    if ctx_of(request).route_version != V2024_09_04:
        # Without 2024-09-04 the request reaches the 2024-04-15 slots controller, which has
        # no `GET /` route: Nest answers 404 (API-FACTS §0).
        raise web.HTTPNotFound()
    backend = state_of(request).backend
    query = query_dict(request)
    problems = Problems()
    unknown_query(query, SLOTS_QUERY, problems)
    first = _bound(query, "start", problems, end_of_day=False)
    last = _bound(query, "end", problems, end_of_day=True)
    duration = query_int(query, "duration", problems, minimum=1)
    slot_format = query.get("format", query.get("slotFormat", "time"))
    if slot_format not in ("time", "range"):
        problems.add("format", "format must be one of the following values: time, range")
    tz = None
    if "timeZone" in query:
        try:
            tz = zone(query["timeZone"])
        except ValueError:
            problems.add("timeZone", "timeZone must be a valid IANA time-zone")
    event_type = _event_type(backend, query, problems)
    assert first is not None
    assert last is not None
    assert event_type is not None
    _check_range(first, last, "Invalid time range given - check the 'start' and 'end' query parameters.")
    length = duration or event_type.length
    starts = backend.slots(
        event_type,
        first,
        last,
        length,
        ignore_uid=query.get("bookingUidToReschedule"),
        viewer_reservation=reservation_cookie(request),
    )
    return success(slots_2024_09_04(starts, tz, length, ranged=slot_format == "range"))


async def get_available_slots(request: web.Request) -> Answer:
    if ctx_of(request).route_version == V2024_09_04:
        raise web.HTTPNotFound()  # the 2024-09-04 controller has no /available route
    backend = state_of(request).backend
    query = query_dict(request)
    problems = Problems()
    first = last = None
    for key in ("startTime", "endTime"):
        if key not in query:
            problems.add(key, f"{key} must be a valid ISO 8601 date string")
    if not problems.items:
        first = _bound(query, "startTime", problems, end_of_day=False)
        last = _bound(query, "endTime", problems, end_of_day=True)
    duration = query_int(query, "duration", problems, minimum=1)
    slot_format = query.get("slotFormat", "time")
    if slot_format not in ("time", "range"):
        problems.add("slotFormat", "slotFormat must be one of the following values: time, range")
    tz = None
    if query.get("timeZone"):
        try:
            tz = zone(query["timeZone"])
        except ValueError:
            problems.add("timeZone", "timeZone must be a valid IANA time-zone")
    if "eventTypeId" not in query and "eventTypeSlug" not in query:
        problems.add("eventTypeId", "eventTypeId must be an integer number")
    event_type = _event_type(backend, query, problems)
    assert first is not None
    assert last is not None
    assert event_type is not None
    _check_range(
        first, last, "Invalid time range given - check the 'startTime' and 'endTime' query parameters."
    )
    length = duration or event_type.length
    starts = backend.slots(
        event_type,
        first,
        last,
        length,
        ignore_uid=query.get("rescheduleUid"),
        viewer_reservation=reservation_cookie(request),
    )
    return success(slots_legacy(starts, tz, length, ranged=slot_format == "range"))
