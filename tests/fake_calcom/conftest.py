"""Fixtures for the fake Cal.com's own tests: a fresh fake per test with a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from fake_calcom import FakeConfig, FakeServer
from fake_calcom.backend.timefmt import parse_iso
from fake_calcom.testing import FROZEN_NOW, CalcomApi


@pytest.fixture
def fake_config() -> FakeConfig:
    """Override in a test module (or parametrize) to start the fake differently."""
    return FakeConfig(rate_limit=False)


@pytest.fixture
async def fake(fake_config: FakeConfig) -> AsyncIterator[FakeServer]:
    async with FakeServer(fake_config) as server:
        server.clock.freeze(parse_iso(FROZEN_NOW))
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


@pytest.fixture
def api(http: aiohttp.ClientSession, fake: FakeServer) -> CalcomApi:
    return CalcomApi(http, fake.url)
