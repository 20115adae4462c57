"""`GET|PATCH /v2/me`: the caller (API key or managed user's access token); platform clients
read `data.id` and `data.timeZone`, and the atoms PATCH it."""

from __future__ import annotations

from aiohttp import web

from fake_calcom.wire.common import Answer, authenticate, ctx_of, state_of, success
from fake_calcom.wire.serializers import me
from fake_calcom.wire.validation import update_me_body


async def get_me(request: web.Request) -> Answer:
    host = authenticate(request, required=True)
    assert host is not None
    return success(me(host, state_of(request).backend.profile(host.id)))


async def update_me(request: web.Request) -> Answer:
    host = authenticate(request, required=True)
    assert host is not None
    changes = update_me_body(ctx_of(request).json())
    return success(me(host, state_of(request).backend.update_profile(host.id, changes)))
