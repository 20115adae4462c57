"""200 concurrent creates for one slot over real loopback HTTP: exactly one wins."""

from __future__ import annotations

import collections
import itertools

import aiohttp
import pytest

from fake_calcom import FakeConfig, ThreadedFakeServer
from fake_calcom.backend.timefmt import parse_iso
from fake_calcom.client import FakeControl
from fake_calcom.testing import ANNA_KEY, BEN_KEY, CLARA_KEY, FROZEN_NOW, CalcomApi, gather_limited

CALLERS = 200


@pytest.mark.parametrize(
    ("rate_limit", "keys", "barrier_parties", "expected"),
    [
        (False, [ANNA_KEY], None, {201: 1, 400: 199}),
        (True, [ANNA_KEY, BEN_KEY, CLARA_KEY], None, {201: 1, 400: 199}),
        (False, [ANNA_KEY], 200, {201: 1, 409: 199}),
        (False, [ANNA_KEY], 50, {201: 1, 409: 49, 400: 150}),
    ],
    ids=["no-rate-limit", "three-keys-rate-limited", "barrier-200", "barrier-4x50"],
)
async def test_exactly_one_of_200_concurrent_creates_wins(
    rate_limit: bool, keys: list[str], barrier_parties: int | None, expected: dict[int, int]
) -> None:
    with ThreadedFakeServer(FakeConfig(rate_limit=rate_limit)) as fake:
        control = FakeControl(fake.url)
        control.freeze(FROZEN_NOW)
        if barrier_parties:
            control.add_fault({"name": "race", "match": {"method": "POST", "path": "/v2/bookings"},
                               "action": {"kind": "barrier", "parties": barrier_parties, "timeout_ms": 10_000}})
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            key_cycle = itertools.cycle(keys)
            calls = [
                CalcomApi(session, fake.url, key=next(key_cycle)).book(
                    name=f"Caller {i}", email=f"caller{i}@example.com", metadata={"call_id": f"call_{i}"}
                )
                for i in range(CALLERS)
            ]
            replies = await gather_limited(calls, CALLERS)
        statuses = collections.Counter(r.status for r in replies)
        assert dict(statuses) == expected
        truth = control.state()
        active = [b for b in truth["bookings"] if b["status"] in ("accepted", "pending")]
        assert len(active) == 1
        winner = next(r for r in replies if r.status == 201).data
        assert active[0]["uid"] == winner["uid"]
        assert parse_iso(active[0]["start"]) == parse_iso(winner["start"])
        if barrier_parties:
            assert control.faults()["faults"][0]["fired"] == CALLERS  # every create was parked
