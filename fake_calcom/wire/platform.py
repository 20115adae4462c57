"""Platform surface: `/v2/provider/{clientId}` (+ `/access-token`), `GET /v2/schedules`
(+ `/default`) and team event types. Every version reaches the provider and team routes."""

from __future__ import annotations

from aiohttp import web

from fake_calcom.backend.errors import BadRequest, CalcomError, Unauthorized
from fake_calcom.wire.common import (
    V2024_06_11,
    Answer,
    authenticate,
    ctx_of,
    query_dict,
    state_of,
    success,
)
from fake_calcom.wire.errors import NO_AUTH_MESSAGE
from fake_calcom.wire.serializers import (
    provider_client,
    schedule_2024_04_15,
    schedule_2024_06_11,
    team_event_type_2024_06_14,
)

BAD_CLIENT_SECRET = "ApiAuthStrategy - oAuth client - Invalid client secret"


async def get_provider(request: web.Request) -> Answer:
    """Unknown client: Nest's bare `UnauthorizedException()` (message "Unauthorized")."""
    client = state_of(request).backend.data.oauth_clients.get(request.match_info["client_id"])
    if client is None:
        raise Unauthorized("Unauthorized")
    return success(provider_client(client))


async def verify_access_token(request: web.Request) -> Answer:
    """ApiAuthGuard: a Bearer (access token or API key), or the OAuth client's id + secret."""
    secret = request.headers.get("x-cal-secret-key")
    if secret is not None and not request.headers.get("Authorization"):
        client_id = request.headers.get("x-cal-client-id") or request.match_info["client_id"]
        client = state_of(request).backend.data.oauth_clients.get(client_id)
        if client is None or client.secret != secret:
            raise Unauthorized(BAD_CLIENT_SECRET)
        return Answer(200, {"status": "success"})
    if authenticate(request, required=False) is None:
        raise Unauthorized(NO_AUTH_MESSAGE)
    return Answer(200, {"status": "success"})


# --------------------------------------------------------------------------- schedules


async def list_schedules(request: web.Request) -> Answer:
    """2024-06-11 shape with that version; the 2024-04-15 controller answers the others."""
    host = authenticate(request, required=True)
    assert host is not None
    if ctx_of(request).route_version == V2024_06_11:
        return success([schedule_2024_06_11(host)])
    return success([schedule_2024_04_15(host)])


async def default_schedule(request: web.Request) -> Answer:
    host = authenticate(request, required=True)
    assert host is not None
    if ctx_of(request).route_version == V2024_06_11:
        return success(schedule_2024_06_11(host))
    return success(schedule_2024_04_15(host))


# --------------------------------------------------------------------------- team event types


def _numeric(text: str) -> int:
    if not text.isdigit():
        raise BadRequest("Validation failed (numeric string is expected)")
    try:
        return int(text)
    except ValueError:  # more digits than Python's int() takes from a string
        raise BadRequest("Validation failed (numeric string is expected)") from None


async def team_event_types(request: web.Request) -> Answer:
    """No auth; `eventSlug` picks one, `hostsLimit` caps the hosts listed. A team without
    event types (or unknown) answers an empty list."""
    backend = state_of(request).backend
    team_id = _numeric(request.match_info["team_id"])
    query = query_dict(request)
    hosts_limit = None
    if "hostsLimit" in query:
        try:
            hosts_limit = int(float(query["hostsLimit"]))
        except (ValueError, OverflowError):
            raise CalcomError(400, "hostsLimit property is wrong, hostsLimit must be a number conforming to the specified constraints") from None
    team = backend.data.teams.get(team_id)
    if team is None:
        return success([])
    event_types = [et for et in backend.data.event_types.values() if et.team_id == team.id]
    if "eventSlug" in query:
        event_types = [et for et in event_types if et.slug == query["eventSlug"]]
    return success([team_event_type_2024_06_14(et, team, backend, hosts_limit) for et in event_types])
