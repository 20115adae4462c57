"""`GET /v2/me`: the API key's owner (platform clients read `data.id` and `data.timeZone`)."""

from __future__ import annotations

from aiohttp import web

from fake_calcom.wire.common import Answer, authenticate, success
from fake_calcom.wire.serializers import me


async def get_me(request: web.Request) -> Answer:
    host = authenticate(request, required=True)
    assert host is not None
    return success(me(host))
