"""`GET /v2/event-types` and `/v2/event-types/{id}`: the 2024-06-14 shapes, or 2024-04-15's groups."""

from __future__ import annotations

from aiohttp import web

from fake_calcom.backend.errors import BadRequest, NotFound
from fake_calcom.backend.models import EventType, Host
from fake_calcom.backend.store import Backend
from fake_calcom.wire.common import (
    V2024_06_11,
    V2024_06_14,
    Answer,
    authenticate,
    ctx_of,
    query_dict,
    state_of,
    success,
)
from fake_calcom.wire.serializers import event_type_2024_06_14, event_type_groups_2024_04_15
from fake_calcom.wire.validation import Problems, unknown_query

NEW_SHAPE_VERSIONS = frozenset({V2024_06_14, V2024_06_11})
LIST_QUERY = frozenset({"username", "eventSlug", "usernames", "orgSlug", "orgId"})


def _hosted_by(backend: Backend, host: Host) -> list[EventType]:
    return [et for et in backend.data.event_types.values() if host.id in et.host_ids]


async def list_event_types(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    backend = state_of(request).backend
    query = query_dict(request)
    if ctx.route_version not in NEW_SHAPE_VERSIONS:
        owner = authenticate(request, required=True)
        assert owner is not None
        return success(event_type_groups_2024_04_15(owner, _hosted_by(backend, owner)))
    problems = Problems()
    unknown_query(query, LIST_QUERY, problems)
    problems.raise_if_any()
    owner = authenticate(request, required=False)
    username = query.get("username")
    if username is not None:
        host = backend.host_by_username(username)
        if host is None:
            raise NotFound(f"User with username={username} not found")
    elif owner is not None:
        host = owner
    else:
        raise BadRequest("username is required when no credentials are provided")
    event_types = _hosted_by(backend, host)
    if "eventSlug" in query:
        event_types = [et for et in event_types if et.slug == query["eventSlug"]]
    return success([event_type_2024_06_14(et, backend) for et in event_types])


async def get_event_type(request: web.Request) -> Answer:
    ctx = ctx_of(request)
    backend = state_of(request).backend
    raw_id = request.match_info["event_type_id"]
    try:
        event_type_id = int(raw_id)
    except ValueError:
        raise BadRequest("Validation failed (numeric string is expected)") from None
    event_type = backend.event_type(event_type_id)
    if ctx.route_version not in NEW_SHAPE_VERSIONS:
        authenticate(request, required=True)
        if event_type is None:
            raise NotFound(f"Event type with id={event_type_id} not found")
        return success({"eventType": event_type_2024_06_14(event_type, backend)})
    authenticate(request, required=False)
    if event_type is None:
        raise NotFound(f"Event type with id={event_type_id} not found")
    return success(event_type_2024_06_14(event_type, backend))
