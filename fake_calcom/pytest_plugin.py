"""Pytest plugin (entry point `pytest11`): the `fake_calcom` fixture, for this and other repos.

    def test_books(fake_calcom):
        fake_calcom.control.freeze("2025-10-06T09:40:00Z")
        response = requests.post(fake_calcom.url + "/v2/bookings", ...)
        assert fake_calcom.control.state()["bookings"]

One fake per test session (per xdist worker) on a free port, reset to its seed data before
every test. ini options: `fake_calcom_seed` (default 0), `fake_calcom_rate_limit` (default
true). The plugin is loaded by every pytest run with calharness installed, so this module
imports nothing heavy: the server is built the first time a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fake_calcom.backend.clock import VirtualClock
    from fake_calcom.backend.store import Backend
    from fake_calcom.client import FakeControl
    from fake_calcom.server import ThreadedFakeServer

API_KEYS = {
    101: "cal_live_calharness_anna",
    102: "cal_live_calharness_ben",
    103: "cal_live_calharness_clara",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("fake_calcom_seed", "seed of the fake_calcom fixture's id generator", default="0")
    parser.addini(
        "fake_calcom_rate_limit", "rate limiting on in the fake_calcom fixture", type="bool", default=True
    )


@dataclass
class FakeCalcom:
    """What a test gets: the URL, the control-plane client and in-process handles."""

    server: ThreadedFakeServer
    control: FakeControl
    api_key: str = API_KEYS[101]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def backend(self) -> Backend:
        """In-process state (read it from the test thread only between requests)."""
        return self.server.backend

    @property
    def clock(self) -> VirtualClock:
        return self.server.clock

    def headers(self, version: str | None = "2024-08-13", api_key: str | None = None) -> dict[str, str]:
        """`Authorization` (and `cal-api-version`) headers for a request to the fake."""
        headers = {"Authorization": f"Bearer {api_key or self.api_key}"}
        if version:
            headers["cal-api-version"] = version
        return headers


@pytest.fixture(scope="session")
def fake_calcom_server(pytestconfig: pytest.Config) -> Iterator[ThreadedFakeServer]:
    """The session's fake Cal.com, started on first use (a free port on 127.0.0.1)."""
    from fake_calcom.server import ThreadedFakeServer
    from fake_calcom.wire.state import FakeConfig

    config = FakeConfig(
        seed=int(pytestconfig.getini("fake_calcom_seed")),
        rate_limit=bool(pytestconfig.getini("fake_calcom_rate_limit")),
    )
    with ThreadedFakeServer(config) as server:
        yield server


@pytest.fixture
def fake_calcom(fake_calcom_server: ThreadedFakeServer) -> FakeCalcom:
    """The session's fake, reset to seed data (no bookings, no faults, real clock) for this test."""
    from fake_calcom.client import FakeControl

    fake_calcom_server.call(fake_calcom_server.state.restore)
    return FakeCalcom(server=fake_calcom_server, control=FakeControl(fake_calcom_server.url))

