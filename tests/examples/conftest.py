"""Fixtures for the REST example: the fake Cal.com at a frozen time, the service in-process."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rest_support import API_KEY, NOW, Service, StartService

from examples.rest_booking import Settings, create_app


@pytest.fixture
def calcom(fake_calcom: Any) -> Any:
    """The session's fake Cal.com, reset, its clock frozen at NOW."""
    fake_calcom.control.freeze(NOW)
    return fake_calcom


@pytest.fixture
async def start_service(calcom: Any, tmp_path: Path) -> AsyncIterator[StartService]:
    """Start the example on a free port: `await start_service("careful", calcom_timeout_s=…)`.
    It shares the fake's clock, so careful mode judges createdAt on Cal.com's time line."""
    runners: list[web.AppRunner] = []
    numbers = itertools.count(1)
    async with aiohttp.ClientSession() as http:

        async def start(mode: str, **overrides: Any) -> Service:
            settings = Settings(**{"calcom_url": calcom.url, "calcom_api_key": API_KEY,
                                   "database": f"sqlite:///{tmp_path}/{mode}-{next(numbers)}.db",
                                   "mode": mode, "clock": calcom.clock,
                                   "calcom_timeout_s": 5.0, **overrides})
            runner = web.AppRunner(await create_app(settings))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            host, port = runner.addresses[0][:2]
            return Service(f"http://{host}:{port}", http, settings)

        yield start
        for runner in runners:
            await runner.cleanup()
