"""Same seed + plan + request sequence ⇒ byte-identical responses (clock frozen)."""

from __future__ import annotations

import aiohttp

from fake_calcom import FakeConfig, FakeServer
from fake_calcom.backend.timefmt import parse_iso
from fake_calcom.testing import (
    FROZEN_NOW,
    SLOTS_VERSION,
    TUESDAY_0930,
    TUESDAY_1000,
    CalcomApi,
)

PLAN = {
    "seed": 99,
    "faults": [
        {"name": "flaky", "match": {"method": "GET", "path": "/v2/me"},
         "trigger": {"kind": "probability", "p": 0.5}, "action": {"kind": "status", "status": 503}},
        {"name": "jitter", "match": {"method": "POST"},
         "action": {"kind": "latency", "distribution": "uniform", "min_ms": 0, "max_ms": 2}},
    ],
}


async def transcript(seed: int) -> list[bytes]:
    """Run one fixed request sequence against a fresh fake; return every response as bytes."""
    out: list[bytes] = []
    async with FakeServer(FakeConfig(seed=seed, faults=PLAN, rate_limit=True)) as fake:
        fake.clock.freeze(parse_iso(FROZEN_NOW))
        async with aiohttp.ClientSession() as session:
            api = CalcomApi(session, fake.url)
            replies = [
                await api.book(),
                await api.book(TUESDAY_0930, event_type_id=2004, name="Team Caller"),
                await api.book(TUESDAY_0930, event_type_id=2004, name="Team Caller Again"),  # dedupe
                await api.book(),  # busy: 400 envelope with a timestamp
                await api.get("/v2/slots", version=SLOTS_VERSION,
                              params={"eventTypeId": "2004", "start": "2025-10-07", "end": "2025-10-08", "timeZone": "Europe/Berlin"}),
                await api.get("/v2/bookings"),
                await api.post("/v2/bookings", raw=b"{oops", headers={"Content-Type": "application/json"}),
            ]
            first_uid = replies[0].data["uid"]
            replies.append(await api.post(f"/v2/bookings/{first_uid}/reschedule", {"start": TUESDAY_1000}))
            replies.append(await api.post(f"/v2/bookings/{first_uid}/cancel", key=None))
            replies += [await api.get("/v2/me") for _ in range(8)]
            replies.append(await api.get("/v2/bookings", version=None))
            for reply in replies:
                headers = "".join(f"{k}: {v}\n" for k, v in sorted(reply.headers.items()))
                out.append(f"{reply.status}\n{headers}\n".encode() + reply.raw)
            async with session.get(fake.url + "/_fake/state") as state:
                out.append(await state.read())
    return out


async def test_same_seed_plan_and_requests_give_byte_identical_responses() -> None:
    first, second = await transcript(seed=5), await transcript(seed=5)
    assert first == second
    assert any(b"503" in r.split(b"\n", 1)[0] for r in first)  # the probability fault fired…
    assert any(r.startswith(b"200") and b'"id":101' in r for r in first)  # …and did not always


async def test_a_different_seed_gives_different_ids() -> None:
    assert (await transcript(seed=5))[0] != (await transcript(seed=6))[0]
