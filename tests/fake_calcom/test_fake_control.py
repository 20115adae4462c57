"""The control plane `/_fake/…` through both clients (sync and async), every endpoint."""

from __future__ import annotations

import aiohttp
import pytest

from fake_calcom import FakeConfig, FakeServer, ThreadedFakeServer
from fake_calcom.backend.seed_data import default_seed_data
from fake_calcom.client import AsyncFakeControl, FakeControl, FakeControlError
from fake_calcom.testing import FROZEN_NOW, TUESDAY_0900, TUESDAY_0930, CalcomApi


@pytest.fixture(scope="module")
def threaded() -> ThreadedFakeServer:
    with ThreadedFakeServer(FakeConfig(seed=3)) as server:
        yield server


@pytest.fixture
def control(threaded: ThreadedFakeServer) -> FakeControl:
    control = FakeControl(threaded.url)
    control.reset()
    control.freeze(FROZEN_NOW)
    return control


ATTENDEE = {"name": "Hansi Sputer", "email": "termin@praxis-berlin.example"}


def test_clock(control: FakeControl) -> None:
    clock = control.clock()
    assert (clock["now"], clock["frozen"]) == (FROZEN_NOW, True)
    assert clock["offset_s"] < 0  # 2025 lies in the past of the machine's clock
    assert control.advance(90)["now"] == "2025-10-06T09:41:30.000Z"
    running = control.unfreeze()
    assert running["frozen"] is False
    assert running["now"] >= "2025-10-06T09:41:30.000Z"
    assert control.freeze()["frozen"] is True
    assert abs(control.reset_clock()["offset_s"]) < 1
    with pytest.raises(FakeControlError) as error:
        control._call("POST", "/_fake/clock", {"freeze": "soon"})
    assert error.value.status == 400
    assert "ISO-8601" in str(error.value)


def test_take_slot_backdates_and_shows_in_the_ground_truth(control: FakeControl) -> None:
    booking = control.take_slot(2004, TUESDAY_0900, ATTENDEE, metadata={"call_id": "call_687"}, age_s=2100, webhooks=False)
    assert booking["createdAt"] == "2025-10-06T09:05:00.000Z"
    assert booking["status"] == "accepted"
    pending = control.take_slot(2001, TUESDAY_0930, ATTENDEE, created_at="2025-10-01T00:00:00Z", status="pending")
    assert pending["status"] == "pending"
    assert pending["createdAt"] == "2025-10-01T00:00:00.000Z"
    truth = control.state()
    assert truth["now"] == FROZEN_NOW
    assert [b["origin"] for b in truth["bookings"]] == [{"kind": "outside"}, {"kind": "outside"}]
    assert truth["bookings"][0]["metadata"] == {"call_id": "call_687"}
    with pytest.raises(FakeControlError) as busy:
        control.take_slot(2001, TUESDAY_0900, ATTENDEE)  # Anna holds 09:00 through the team booking
    assert busy.value.status == 409
    with pytest.raises(FakeControlError) as unknown:
        control.take_slot(4242, TUESDAY_0900, ATTENDEE)
    assert unknown.value.status == 404
    with pytest.raises(FakeControlError) as bad:
        control._call("POST", "/_fake/take-slot", {"eventTypeId": 2001, "start": TUESDAY_0900, "attendee": ATTENDEE, "colour": 1})
    assert bad.value.status == 400
    assert "colour" in str(bad.value)


def test_faults_set_add_list_clear(control: FakeControl) -> None:
    plan = {"seed": 4, "faults": [{"name": "a", "match": {"path": "/v2/me"}, "action": {"kind": "status", "status": 500}}]}
    assert control.set_faults(plan)["faults"][0]["fired"] == 0
    assert control.add_fault({"match": {"path": "/v2/slots"}, "action": {"kind": "empty"}}) == "empty-2"
    listing = control.faults()
    assert listing["seed"] == 4
    assert [f["name"] for f in listing["faults"]] == ["a", "empty-2"]
    assert control.clear_faults() == {"seed": 4, "faults": []}
    with pytest.raises(FakeControlError, match="unknown action kind"):
        control.add_fault({"action": {"kind": "explode"}})


def test_journal_stats_and_rate_limit(control: FakeControl, threaded: ThreadedFakeServer) -> None:
    control.set_rate_limit(enabled=True, limit=2, window_s=60, block_s=30)
    assert control.rate_limit() == {"enabled": True, "limit": 2, "window_s": 60.0, "block_s": 30.0}
    import urllib.request

    def me() -> int:
        request = urllib.request.Request(threaded.url + "/v2/me", headers={"Authorization": "Bearer cal_live_calharness_anna"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert [me(), me(), me()] == [200, 200, 429]
    stats = control.stats()
    assert stats["requests"] == {"GET /v2/me 200": 2, "GET /v2/me 429": 1}
    assert stats["rate_limited"] == 1
    journal = control.journal()
    assert [e["status"] for e in journal["entries"]] == [200, 200, 429]
    assert journal["entries"][0]["response_body"]["data"]["id"] == 101
    assert control.journal(since=journal["entries"][1]["seq"])["entries"][0]["status"] == 429
    assert control.set_journal(enabled=False, capacity=5) == {"enabled": False, "capacity": 5}
    control.set_rate_limit(enabled=False)
    me()
    assert len(control.journal()["entries"]) == 3  # journal off: nothing more recorded
    control.set_journal(enabled=True)


def test_seed_data_replace_and_validation(control: FakeControl) -> None:
    data = default_seed_data()
    data["eventTypes"].append({**data["eventTypes"][0], "id": 2999, "slug": "kurz", "lengthInMinutes": 15})
    assert any(et["id"] == 2999 for et in control.set_seed_data(data)["eventTypes"])
    assert control.take_slot(2999, TUESDAY_0900, ATTENDEE)["duration"] == 15
    assert control.seed_data() == data
    with pytest.raises(FakeControlError) as error:
        control.set_seed_data({"hosts": "nope"})
    assert error.value.status == 400
    assert "seed data" in str(error.value)
    control.set_seed_data(default_seed_data())


def test_reset_scopes(control: FakeControl) -> None:
    control.add_fault({"match": {"path": "/v2/me"}, "action": {"kind": "empty"}})
    control.take_slot(2001, TUESDAY_0900, ATTENDEE)
    control.reset("bookings")
    assert control.state()["bookings"] == []
    assert control.faults()["faults"]
    assert control.clock()["frozen"] is True
    control.reset()
    assert control.faults()["faults"] == []
    assert control.clock()["frozen"] is False
    with pytest.raises(FakeControlError):
        control.reset("everything")


def test_unknown_control_paths_and_bad_bodies_are_json_errors(control: FakeControl) -> None:
    for method, path, body in (("GET", "/_fake/nope", None), ("POST", "/_fake/faults", None), ("PUT", "/_fake/journal", {"capacity": 0})):
        with pytest.raises(FakeControlError) as error:
            control._call(method, path, body)
        assert error.value.status in (400, 404)
        assert "error" in error.value.body


async def test_the_async_client_covers_the_same_calls() -> None:
    async with FakeServer(FakeConfig(rate_limit=False)) as fake, aiohttp.ClientSession() as session:
        control = AsyncFakeControl(fake.url)
        await control.reset()
        await control.freeze(FROZEN_NOW)
        await control.advance(60)
        assert (await control.clock())["now"] == "2025-10-06T09:41:00.000Z"
        assert (await control.unfreeze())["frozen"] is False
        await control.freeze(FROZEN_NOW)
        await control.set_faults({"faults": []})
        name = await control.add_fault({"match": {"path": "/v2/me"}, "action": {"kind": "status", "status": 503}})
        assert [f["name"] for f in (await control.faults())["faults"]] == [name]
        await control.clear_faults()
        booking = await control.take_slot(2001, TUESDAY_0900, ATTENDEE, age_s=5)
        assert booking["createdAt"] == "2025-10-06T09:39:55.000Z"
        api = CalcomApi(session, fake.url)
        assert (await api.get("/v2/me")).status == 200
        assert (await control.stats())["requests"] == {"GET /v2/me 200": 1}
        assert len((await control.journal(limit=5))["entries"]) == 1
        assert (await control.set_journal(capacity=10))["capacity"] == 10
        assert (await control.set_rate_limit(enabled=True, limit=50))["limit"] == 50
        assert (await control.rate_limit())["enabled"] is True
        subscription = await control.subscribe("http://127.0.0.1:9/hook", triggers=["BOOKING_CREATED"], secret="s")
        assert subscription["userId"] is None
        assert (await control.flush_webhooks(timeout_s=5))["pending"] == 0
        assert len((await control.state())["bookings"]) == 1
        seed = await control.seed_data()
        assert (await control.set_seed_data(seed)) == seed
        await control.reset_clock()
        await control.reset("bookings")
        with pytest.raises(FakeControlError):
            await control.take_slot(4242, TUESDAY_0900, ATTENDEE)
        await control.close()
