"""Wiring: the database, the Cal.com client and the chosen mode behind the API."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from examples.rest_booking.api import Api, json_errors
from examples.rest_booking.booking import booker_for
from examples.rest_booking.calcom import CalcomClient
from examples.rest_booking.holds import Holds
from examples.rest_booking.settings import Settings
from examples.rest_booking.store import Store


async def create_app(settings: Settings) -> web.Application:
    """The service as an aiohttp application (opens its database; closed on cleanup)."""
    store = await Store.open(settings.database)
    # no cookie jar: a reservation's cookie is one caller's, never the whole service's
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    calcom = CalcomClient(settings.calcom_url, settings.calcom_api_key,
                          read_api_keys=settings.calcom_read_api_keys,
                          timeout_s=settings.calcom_timeout_s, session=session,
                          read_attempts=settings.read_attempts if settings.mode == "careful" else 1)
    holds = Holds(calcom, settings.clock) if settings.hold else None
    booker = booker_for(settings.mode, calcom, store, settings.clock, settings.create_attempts,
                        holds)
    app = web.Application(middlewares=[json_errors])
    app.add_routes(Api(settings, calcom, store, booker).routes())

    async def close(_: web.Application) -> None:
        await session.close()
        await store.close()

    app.on_cleanup.append(close)
    return app
