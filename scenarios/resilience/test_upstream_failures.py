"""Cal.com failing on reads: 5xx bursts, hangs, resets and answers that cannot be read.

Slot queries are safe to repeat, so a short burst must be ridden out with retries (backoff on the
frozen shared clock) and the caller served as if nothing happened; a failure that outlasts the
retries must end in a clear answer (`upstream_unavailable`, HTTP 200, a German message) and
nothing booked — never a 500, never a guess. seeds/001 §1.1 "handles Cal.com API timeout
gracefully: graceful error, not 500".
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.faults import (
    CREATE,
    SLOTS,
    empty,
    fault,
    hang,
    malformed,
    reset,
    rewrite,
    status,
    truncate,
)
from harness.world import World

pytestmark = [pytest.mark.area("resilience")]

READ_FAILURES: dict[str, dict[str, Any]] = {
    "500": status(500),
    "502-html": status(502),
    "503": status(503),
    "504-text": status(504),
    "hang": hang("before"),
    "reset": reset("before"),
    "truncated": truncate(),
    "malformed": malformed(),
    "empty": empty(),
}
#: A well-formed 200 of the wrong shape is not retried (it is no transient failure).
WRONG_SHAPE = rewrite(data="nope")


@pytest.mark.rca("tc-011")
@pytest.mark.parametrize("kind", list(READ_FAILURES))
@pytest.mark.needs("book", "check", "ground_truth", "calcom_journal", "faults")
def test_a_burst_of_failed_slot_queries_is_ridden_out(world: World, kind: str) -> None:
    """The first two slot queries fail; the service retries and both the availability check and
    the booking (whose double-check queries slots again) go through."""
    slot = world.slot(days_ahead=2, hour=12)
    world.arm(fault(f"slots-{kind}", READ_FAILURES[kind], on=SLOTS, first=2))
    world.freeze_if_possible()  # only makes the retries' backoff instant
    with world.calcom_timeout():
        heard = world.driver.check(slot, call_id="call_burst")
        booked = world.driver.collect(slot, name="Max Mustermann", call_id="call_burst",
                                      telefon="+4915112345678")

    assert heard.status == "available", heard.body
    assert booked.status == "booked", booked.body
    assert len(world.upstream(active=False)) == 1


@pytest.mark.defense("availability_double_check")
@pytest.mark.rca("tc-012")
@pytest.mark.parametrize("kind", ["503", "hang", "malformed", "wrong-shape"])
@pytest.mark.needs("book", "check", "ground_truth", "calcom_journal", "faults", "clock")
def test_slot_queries_failing_for_good_end_in_a_clear_refusal(world: World, kind: str) -> None:
    """Every slot query fails: after its retries the service says `upstream_unavailable` to the
    checking caller and to the booking one, books nothing, and never sends the create — the
    double-check could not confirm the slot, and an early layer that refuses keeps Cal.com from
    being asked (TC-012). Without the double-check the create goes out unconfirmed."""
    slot = world.slot(days_ahead=2, hour=12, minute=30)
    world.arm(fault(f"slots-{kind}", READ_FAILURES.get(kind, WRONG_SHAPE), on=SLOTS))
    # Needs the shared clock, not only for the backoff: the failures open the service's circuit
    # for 30 s, which only a reset or moving that clock ends (else the next scenario would find
    # Cal.com cut off).
    world.freeze()
    with world.calcom_timeout():
        heard = world.driver.check(slot, call_id="call_down")
        refused = world.driver.collect(slot, name="Max Mustermann", call_id="call_down",
                                       telefon="+4915112345678")

    assert heard.http_status == 200
    assert heard.status == "upstream_unavailable", heard.body
    assert refused.http_status == 200
    # The slots query fails first: the exact answer is "unavailable upstream", not the open circuit.
    assert refused.status == "upstream_unavailable", refused.body
    assert refused.body["success"] is False
    assert refused.body["message"], refused.body
    assert world.upstream(active=False) == []
    assert world.requests_seen(*CREATE) == {}


@pytest.mark.rca("tc-011")
@pytest.mark.parametrize("code", [500, 502, 503])
@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults")
def test_a_5xx_burst_across_reads_and_the_create_books_once(world: World, code: int) -> None:
    """A burst that hits the slot queries and the create (before Cal.com handled it): retried,
    looked up, sent again — one booking, the caller told booked."""
    slot = world.slot(days_ahead=2, hour=14)
    world.arm(fault("slots-burst", status(code), on=SLOTS, first=2),
              fault("create-burst", status(code), first=2))
    world.freeze_if_possible()  # only makes the retries' backoff instant
    answer = world.driver.collect(slot, name="Max Mustermann", call_id="call_5xx_burst",
                                  telefon="+4915112345678")

    assert answer.status == "booked", answer.body
    assert len(world.upstream(active=False)) == 1
    assert world.requests_seen(*CREATE) == {code: 2, 201: 1}
