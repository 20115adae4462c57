"""Connections under pressure: callers queued for a slot, an exhausted pool, a full lock pool.

Fifty callers waiting for one slot once held fifty pooled connections (each waited in
MariaDB's `GET_LOCK` on a connection of the flows' pool); the caller holding the lock then got no
connection for its own insert, and a pool timeout surfaced as an unhandled error. Here the
pressure is forced, not hoped for: a one-connection pool, a holder parked at a failpoint,
connections held by the test. Each answer must be a clear one, never `internal_error`, and
never "not booked" while Cal.com holds a booking for the caller.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from service_stack import Stack, StackFactory
from sqlalchemy.ext.asyncio import AsyncConnection

OVERBOOK = {
    "name": "overbook",
    "match": {"method": "POST", "path": "/v2/bookings"},
    "trigger": {"kind": "always"},
    "action": {"kind": "overbook"},
}
GUARD_S = 20.0  # only reached when a flow is stuck (the old design): fails instead of hanging


class ParkedFlow:
    """A failpoint hook that parks the flow of one call until the test lets it go."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.parked = asyncio.Event()
        self.go = asyncio.Event()

    async def __call__(self, context: dict[str, Any]) -> None:
        if context.get("call_id") == self.call_id:
            self.parked.set()
            await self.go.wait()


@asynccontextmanager
async def all_connections_taken(stack: Stack, count: int) -> AsyncIterator[None]:
    """Check out `count` connections of the service's pool (all of them) and hold them."""
    held: list[AsyncConnection] = [await stack.ctx.engine.connect() for _ in range(count)]
    try:
        yield
    finally:
        for connection in held:
            await connection.close()


async def test_callers_queued_for_one_slot_leave_other_slots_bookable(
    make_stack: StackFactory,
) -> None:
    """One caller holds slot S (parked inside the lock), six more queue for S. Callers for other
    slots must book meanwhile, and when the holder finishes, S is booked once."""
    holder = ParkedFlow("call_holder")
    async with make_stack(
        webhooks=False,
        failpoints={"collect.after_double_check": holder},
        db_pool_size=1,  # two connections in all; lock connections must not come out of them
        db_pool_timeout_s=GUARD_S,
    ) as stack:
        await stack.control.add_fault(OVERBOOK)  # only the service keeps S to one booking
        first = asyncio.create_task(stack.collect("call_holder", name="Anna Alt"))
        queued: list[asyncio.Task[dict[str, Any]]] = []
        try:
            await asyncio.wait_for(holder.parked.wait(), GUARD_S)
            queued = [
                asyncio.create_task(stack.collect(f"call_queued_{i}", name=f"Caller {i}"))
                for i in range(6)
            ]
            others = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        stack.collect(f"call_other_{i}", name=f"Other {i}", uhrzeit=uhrzeit)
                        for i, uhrzeit in enumerate(["09:00", "09:30", "10:00"])
                    )
                ),
                GUARD_S,
            )
        finally:
            holder.go.set()
            answers = await asyncio.gather(first, *queued)
        assert [a["status"] for a in others] == ["booked"] * 3, others
        assert answers[0]["status"] == "booked", answers[0]
        statuses = Counter(a["status"] for a in answers[1:])
        assert set(statuses) <= {"slot_taken", "race_condition_detected"}, answers
        assert len(await stack.active_upstream_at()) == 1


@pytest.mark.mariadb
async def test_no_connection_before_the_create_is_a_clear_answer(
    make_mariadb_stack: StackFactory,
) -> None:
    async with make_mariadb_stack(webhooks=False, db_pool_size=1, db_pool_timeout_s=0.3) as stack:
        async with all_connections_taken(stack, 2):
            answer = await stack.collect("call_a")
        assert (answer["status"], answer["reason"]) == ("rate_limited", "database_busy"), answer
        assert await stack.upstream() == []
        assert (await stack.collect("call_a"))["status"] == "booked"  # and it is over at once


@pytest.mark.mariadb
@pytest.mark.parametrize("cancel_works", [True, False], ids=["taken-back", "cancel-fails"])
async def test_no_connection_after_the_create_takes_the_booking_back(
    make_mariadb_stack: StackFactory, cancel_works: bool
) -> None:
    """Cal.com booked, then the insert gets no connection. The caller must not be told "not
    booked" while an unrecorded booking for them stays at Cal.com (no webhook imports it: their
    call owns it): the service cancels it, or says it does not know."""
    holding: list[Any] = []

    async def take_all_connections(_context: dict[str, Any]) -> None:
        holding.append(all_connections_taken(stack, 2))
        await holding[0].__aenter__()

    async with make_mariadb_stack(
        webhooks=False,
        failpoints={"collect.before_insert": take_all_connections},
        db_pool_size=1,
        db_pool_timeout_s=0.3,
    ) as stack:
        if not cancel_works:
            await stack.control.add_fault(
                {
                    "name": "no-cancel",
                    "match": {"method": "POST", "path": "/v2/bookings/*/cancel"},
                    "trigger": {"kind": "always"},
                    "action": {"kind": "status", "status": 500},
                }
            )
        try:
            answer = await stack.collect("call_a")
        finally:
            await holding[0].__aexit__(None, None, None)
        assert await stack.appointments() == []
        [booking] = await stack.upstream()
        if cancel_works:
            assert (answer["status"], answer["reason"]) == ("rate_limited", "database_busy")
            assert booking["status"] == "cancelled"
        else:  # an answer that admits it does not know; reconciliation imports the booking
            assert (answer["status"], answer["reason"]) == ("timeout", "booking_not_recorded")
            assert booking["status"] == "accepted"


@pytest.mark.mariadb
async def test_no_free_lock_connection_is_a_clear_answer(make_mariadb_stack: StackFactory) -> None:
    """One lock connection in this process, held by a caller for S: a caller for another slot
    waits for it until the lock timeout, then hears "busy, try again" — not "slot taken"."""
    holder = ParkedFlow("call_holder")
    async with make_mariadb_stack(
        webhooks=False,
        failpoints={"collect.after_double_check": holder},
        slot_lock_connections=1,
        slot_lock_timeout_s=0.3,
    ) as stack:
        first = asyncio.create_task(stack.collect("call_holder", name="Anna Alt"))
        try:
            await asyncio.wait_for(holder.parked.wait(), GUARD_S)
            other = await stack.collect("call_other", name="Bernd Brot", uhrzeit="09:00")
        finally:
            holder.go.set()
        assert (other["status"], other["reason"]) == ("rate_limited", "slot_lock_busy"), other
        assert (await first)["status"] == "booked"
