"""Many callers at once, with every defense on: one booking per slot, whatever the interleaving.

Cal.com is told to accept overlapping bookings (`overbook`), so only the service's own defenses
stand between the callers and a double booking. The invariant is checked, not an interleaving.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from service_stack import StackFactory

OVERBOOK = {
    "name": "overbook",
    "match": {"method": "POST", "path": "/v2/bookings"},
    "trigger": {"kind": "always"},
    "action": {"kind": "overbook"},
}


async def test_eight_callers_one_slot(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        await stack.control.add_fault(OVERBOOK)
        answers = await asyncio.gather(
            *(stack.collect(f"call_{i}", name=f"Caller {i}") for i in range(8))
        )
        statuses = Counter(a["status"] for a in answers)
        assert statuses["booked"] == 1, statuses
        assert set(statuses) <= {"booked", "slot_taken", "race_condition_detected"}
        assert len(await stack.active_upstream_at()) == 1
        assert len(await stack.appointments()) == 1


async def test_callers_spread_over_a_few_slots(make_stack: StackFactory) -> None:
    times = ["09:00", "09:30", "10:00", "10:30"]
    async with make_stack(webhooks=False) as stack:
        await stack.control.add_fault(OVERBOOK)
        answers = await asyncio.gather(
            *(
                stack.collect(f"call_{i}", name=f"Caller {i}", uhrzeit=times[i % len(times)])
                for i in range(16)
            )
        )
        booked = [a for a in answers if a["status"] == "booked"]
        assert sorted(a["start"] for a in booked) == [
            "2026-01-07T08:00:00Z",
            "2026-01-07T08:30:00Z",
            "2026-01-07T09:00:00Z",
            "2026-01-07T09:30:00Z",
        ]
        upstream = [b for b in await stack.upstream() if b["status"] == "accepted"]
        assert len(upstream) == 4
        assert len({b["uid"] for b in upstream}) == 4
