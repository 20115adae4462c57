"""Rendezvous points (`/_fake/rendezvous/…`, a barrier across processes) and the `restore` reset.

Arrivals are plain HTTP requests from asyncio tasks; where a test must know that a party has
arrived before it acts, the fake's own `meet` says so (an event set right after the arrival is
registered) — no sleeps.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fake_calcom import FakeConfig, FakeServer
from fake_calcom.backend.seed_data import default_seed_data
from fake_calcom.backend.timefmt import parse_iso
from fake_calcom.pytest_plugin import FakeCalcom
from fake_calcom.testing import FROZEN_NOW, TUESDAY_0900, CalcomApi
from fake_calcom.wire.rendezvous import RendezvousPoints


async def post(http: aiohttp.ClientSession, url: str, body: Any = None,
               method: str = "POST") -> tuple[int, Any]:
    async with http.request(method, url, json=body) as response:
        return response.status, await response.json(content_type=None)


async def get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


class Arrivals:
    """Wraps the fake's rendezvous points: `await arrivals.wait(n)` returns once n parties have
    arrived (their arrival registered inside the fake, not merely sent)."""

    def __init__(self, points: RendezvousPoints, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self._changed = asyncio.Event()
        real = points.meet

        async def meet(name: str, parties: int, timeout_s: float,
                       context: dict[str, Any]) -> Any:
            # `real` registers the arrival before it first suspends; this callback runs after.
            asyncio.get_running_loop().call_soon(self._arrived)
            return await real(name, parties, timeout_s, context)

        monkeypatch.setattr(points, "meet", meet)

    def _arrived(self) -> None:
        self.count += 1
        self._changed.set()

    async def wait(self, n: int) -> None:
        async with asyncio.timeout(10):
            while self.count < n:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def arrivals(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Arrivals:
    return Arrivals(fake.state.rendezvous, monkeypatch)


async def test_two_parties_are_released_together_when_the_second_arrives(
        fake: FakeServer, http: aiohttp.ClientSession, arrivals: Arrivals) -> None:
    url = fake.url + "/_fake/rendezvous/double-check"
    first = asyncio.create_task(post(http, url, {"parties": 2, "timeout_s": 30,
                                                 "context": {"replica": "a"}}))
    await arrivals.wait(1)

    # The first waits at the point: it has not been answered.
    assert not first.done()
    listed = await get(http, fake.url + "/_fake/rendezvous")
    assert listed == {"rendezvous": {"double-check": {
        "parties": 2, "arrived": [{"replica": "a"}], "tripped": False, "timed_out": False}}}

    second = await post(http, url, {"parties": 2, "timeout_s": 30, "context": {"replica": "b"}})
    async with asyncio.timeout(10):
        released = await first

    assert released == second == (200, {"tripped": True, "arrived": 2})
    assert await get(http, fake.url + "/_fake/rendezvous") == {"rendezvous": {"double-check": {
        "parties": 2, "arrived": [{"replica": "a"}, {"replica": "b"}], "tripped": True,
        "timed_out": False}}}


async def test_gathered_parties_all_trip(fake: FakeServer, http: aiohttp.ClientSession) -> None:
    url = fake.url + "/_fake/rendezvous/three"
    answers = await asyncio.gather(*(post(http, url, {"parties": 3, "timeout_s": 30,
                                                      "context": {"n": n}}) for n in range(3)))

    assert answers == [(200, {"tripped": True, "arrived": 3})] * 3
    point = (await get(http, fake.url + "/_fake/rendezvous"))["rendezvous"]["three"]
    assert sorted(c["n"] for c in point["arrived"]) == [0, 1, 2]


async def test_a_party_alone_times_out(fake: FakeServer, http: aiohttp.ClientSession) -> None:
    status, answer = await post(http, fake.url + "/_fake/rendezvous/lonely",
                                {"parties": 2, "timeout_s": 0.05})

    assert (status, answer) == (200, {"tripped": False, "arrived": 1})
    assert await get(http, fake.url + "/_fake/rendezvous") == {"rendezvous": {"lonely": {
        "parties": 2, "arrived": [{}], "tripped": False, "timed_out": True}}}


async def test_one_party_trips_at_once(fake: FakeServer, http: aiohttp.ClientSession) -> None:
    assert await post(http, fake.url + "/_fake/rendezvous/solo", {"parties": 1}) == (
        200, {"tripped": True, "arrived": 1})


async def test_points_are_kept_apart_by_name(fake: FakeServer, http: aiohttp.ClientSession,
                                             arrivals: Arrivals) -> None:
    waiting = asyncio.create_task(post(http, fake.url + "/_fake/rendezvous/a",
                                       {"parties": 2, "timeout_s": 30}))
    await arrivals.wait(1)

    other = await post(http, fake.url + "/_fake/rendezvous/b", {"parties": 2, "timeout_s": 0.05})

    assert other == (200, {"tripped": False, "arrived": 1})
    assert not waiting.done()
    assert await post(http, fake.url + "/_fake/rendezvous/a", {"parties": 2}) == (
        200, {"tripped": True, "arrived": 2})
    async with asyncio.timeout(10):
        assert await waiting == (200, {"tripped": True, "arrived": 2})


@pytest.mark.parametrize("scope", ["all", "bookings", "restore"])
async def test_a_reset_releases_whoever_waits_and_forgets_the_points(
        fake: FakeServer, http: aiohttp.ClientSession, arrivals: Arrivals, scope: str) -> None:
    waiting = asyncio.create_task(post(http, fake.url + "/_fake/rendezvous/stuck",
                                       {"parties": 2, "timeout_s": 60}))
    await arrivals.wait(1)
    assert not waiting.done()

    assert await post(http, fake.url + "/_fake/reset", {"scope": scope}) == (200, {"reset": scope})

    async with asyncio.timeout(10):  # released at once, far before its 60 s timeout
        status, answer = await waiting
    assert (status, answer["arrived"]) == (200, 1)
    assert await get(http, fake.url + "/_fake/rendezvous") == {"rendezvous": {}}


BAD_RENDEZVOUS = [
    ({"parties": 0}, "rendezvous: parties must be a positive integer"),
    ({"parties": True}, "rendezvous: parties must be a positive integer"),
    ({"parties": 1.5}, "rendezvous: parties must be a positive integer"),
    ({"timeout_s": 0}, "rendezvous: timeout_s must be a number in (0, 600]"),
    ({"timeout_s": 601}, "rendezvous: timeout_s must be a number in (0, 600]"),
    ({"timeout_s": "1"}, "rendezvous: timeout_s must be a number in (0, 600]"),
    ({"context": [1]}, "rendezvous: context must be an object"),
    ({"parties": 2, "who": "me"}, "rendezvous: an object with parties, timeout_s and context"),
    ([2], "rendezvous: an object with parties, timeout_s and context"),
]


@pytest.mark.parametrize(("body", "message"), BAD_RENDEZVOUS,
                         ids=[str(b) for b, _ in BAD_RENDEZVOUS])
async def test_bad_rendezvous_requests_are_400s(fake: FakeServer, http: aiohttp.ClientSession,
                                               body: Any, message: str) -> None:
    assert await post(http, fake.url + "/_fake/rendezvous/x", body) == (400, {"error": message})
    assert await get(http, fake.url + "/_fake/rendezvous") == {"rendezvous": {}}


async def test_a_rendezvous_body_that_is_not_json_is_a_400(fake: FakeServer,
                                                           http: aiohttp.ClientSession) -> None:
    async with http.post(fake.url + "/_fake/rendezvous/x", data=b"{nope") as response:
        assert (response.status, await response.json()) == (
            400, {"error": "rendezvous: body is not JSON"})


# -- restore: back to exactly how the fake was started -----------------------------------------------


def started_seed_data() -> dict[str, Any]:
    """Seed data that differs from the default: only Beratung and Haarschnitt."""
    data = copy.deepcopy(default_seed_data())
    data["eventTypes"] = [e for e in data["eventTypes"] if e["id"] in (2001, 2002)]
    return data


STARTED_FAULTS = {"seed": 5, "faults": [
    {"name": "me-503", "match": {"method": "GET", "path": "/v2/me"},
     "trigger": {"kind": "always"}, "action": {"kind": "status", "status": 503}}]}


@pytest.fixture
async def configured() -> AsyncIterator[FakeServer]:
    config = FakeConfig(seed=11, seed_data=started_seed_data(), faults=STARTED_FAULTS,
                        rate_limit=True, rate_limit_per_minute=7, rate_limit_block_s=9,
                        journal=True, journal_capacity=50)
    async with FakeServer(config) as server:
        server.clock.freeze(parse_iso(FROZEN_NOW))
        yield server


async def snapshot(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    journal = await get(http, url + "/_fake/journal")
    return {"seed_data": await get(http, url + "/_fake/seed-data"),
            "faults": await get(http, url + "/_fake/faults"),
            "rate_limit": await get(http, url + "/_fake/rate-limit"),
            "journal": {"enabled": journal["enabled"], "capacity": journal["capacity"]},
            "bookings": (await get(http, url + "/_fake/state"))["bookings"]}


async def change_everything(http: aiohttp.ClientSession, url: str) -> None:
    for method, path, body in (
            ("PUT", "/_fake/seed-data", default_seed_data()),
            ("PUT", "/_fake/faults", {"seed": 9, "faults": []}),
            ("PUT", "/_fake/rate-limit", {"enabled": False, "limit": 500, "window_s": 30,
                                          "block_s": 0}),
            ("PUT", "/_fake/journal", {"enabled": False, "capacity": 5}),
            ("PUT", "/_fake/webhooks/mode", {"hold": True}),
            ("POST", "/_fake/clock", {"freeze": FROZEN_NOW})):
        status, answer = await post(http, url + path, body, method=method)
        assert status == 200, (path, answer)
    status, answer = await post(http, url + "/_fake/take-slot", {
        "eventTypeId": 2004, "start": TUESDAY_0900,
        "attendee": {"name": "Outside Booker", "email": "outside@example.com"}})
    assert status == 200, answer


async def test_restore_brings_back_the_started_seed_data_faults_limiter_and_journal(
        configured: FakeServer, http: aiohttp.ClientSession) -> None:
    url = configured.url
    started = await snapshot(http, url)
    assert [e["id"] for e in started["seed_data"]["eventTypes"]] == [2001, 2002]
    assert started["faults"]["faults"][0]["name"] == "me-503"
    assert started["rate_limit"] == {"enabled": True, "limit": 7, "window_s": 60.0, "block_s": 9.0}
    assert started["journal"] == {"enabled": True, "capacity": 50}
    first = await CalcomApi(http, url).book()
    assert first.status == 201, first.raw
    await change_everything(http, url)
    changed = await snapshot(http, url)
    assert all(changed[k] != started[k] for k in started), changed

    assert await post(http, url + "/_fake/reset", {"scope": "restore"}) == (
        200, {"reset": "restore"})

    assert await snapshot(http, url) == started
    clock = await get(http, url + "/_fake/clock")
    assert clock["frozen"] is False
    assert (await post(http, url + "/_fake/webhooks/mode", {"hold": False}, method="PUT"))[1][
        "pending"] == 0
    # The id generator starts over: the first booking again gets the first id and uid.
    configured.clock.freeze(parse_iso(FROZEN_NOW))
    again = await CalcomApi(http, url).book()
    assert (again.data["id"], again.data["uid"]) == (first.data["id"], first.data["uid"])


async def test_reset_all_keeps_changed_seed_data_and_drops_the_started_faults(
        configured: FakeServer, http: aiohttp.ClientSession) -> None:
    """What `restore` is for: `all` keeps the last seed data and clears the fault plan."""
    url = configured.url
    await change_everything(http, url)

    await post(http, url + "/_fake/reset", {"scope": "all"})

    after = await snapshot(http, url)
    assert [e["id"] for e in after["seed_data"]["eventTypes"]] == [2001, 2002, 2003, 2004, 2005,
                                                                   2006]
    assert after["faults"] == {"seed": 0, "faults": []}
    assert after["bookings"] == []


async def test_restore_answers_with_the_started_fault_plan_counting_from_zero(
        configured: FakeServer, http: aiohttp.ClientSession) -> None:
    url = configured.url
    api = CalcomApi(http, url)
    assert (await api.get("/v2/me")).status == 503
    assert (await get(http, url + "/_fake/faults"))["faults"][0]["fired"] == 1

    await post(http, url + "/_fake/reset", {"scope": "restore"})

    fault = (await get(http, url + "/_fake/faults"))["faults"][0]
    assert (fault["name"], fault["matched"], fault["fired"]) == ("me-503", 0, 0)
    assert (await api.get("/v2/me")).status == 503  # still armed, as at the start


async def test_an_unknown_reset_scope_is_a_400(fake: FakeServer,
                                              http: aiohttp.ClientSession) -> None:
    assert await post(http, fake.url + "/_fake/reset", {"scope": "everything"}) == (
        400, {"error": "scope must be 'all', 'bookings' or 'restore'"})


def test_the_control_plane_answers_its_health_check(fake_calcom: FakeCalcom) -> None:
    answer = fake_calcom.control._call("GET", "/_fake/healthz")
    assert answer["status"] == "ok"
    assert answer["now"].endswith("Z")
