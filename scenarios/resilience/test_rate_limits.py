"""Cal.com's throttler (API-FACTS §3.3): 429 with `X-RateLimit-{Limit,Remaining,Reset}-Default`
and no Retry-After (seeds/000 TC-006 "back off and retry, no duplicate"; seeds/001 §1.2 "150
calls at 100/min take at least 90 s").

The service must read those headers and never book twice. A phone caller waits at most a few
seconds for a window (`caller_rate_limit_wait_s`, 5 s: nobody holds silently on the line for a
minute), then hears `rate_limited` and tries again; a patient caller (`world.caller_rate_limit_wait`)
sees the service wait the window out on the clock it shares with the fake (frozen here, so a
60-second wait costs nothing) and carry on — booking once. A 429 is a definite "not done", so a
caller refused with `rate_limited` must have nothing booked upstream. Callers take turns: with a
frozen clock one caller's wait moves time for all of them.
"""

from __future__ import annotations

import pytest

from harness.faults import CREATE, SLOTS, fault, status
from harness.world import World

pytestmark = [pytest.mark.area("resilience"), pytest.mark.rca("tc-006")]


def elapsed_s(world: World, since: float) -> float:
    return world.clock.now().timestamp() - since


@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults", "clock")
def test_one_429_on_create_is_answered_at_once_and_the_retry_books_once(world: World) -> None:
    """A single 429 on the create (Reset: 60 s) is longer than a caller holds on the line: the
    caller hears `rate_limited` at once with nothing booked; asking again after the window, the
    same call is booked, once."""
    slot = world.slot(days_ahead=2, hour=9)
    world.arm(fault("throttled-create", status(429), first=1))
    world.freeze()
    started = world.clock.now().timestamp()

    refused = world.driver.collect(slot, name="Max Mustermann", call_id="call_429_once",
                                   telefon="+4915112345678")
    assert refused.status == "rate_limited", refused.body
    assert world.upstream(active=False) == []
    assert elapsed_s(world, started) < 60, "a phone caller must not sit through the window"

    world.clock.advance(60)
    again = world.driver.collect(slot, name="Max Mustermann", call_id="call_429_once",
                                 telefon="+4915112345678")
    assert again.status == "booked", again.body
    assert len(world.upstream(active=False)) == 1
    assert world.requests_seen(*CREATE) == {429: 1, 201: 1}


@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults", "clock")
def test_one_429_on_create_waits_out_the_window_for_a_patient_caller(world: World) -> None:
    """The same 429 for a caller willing to wait the minute: the service waits that long on the
    shared clock, sends the create again, and the caller is booked once."""
    slot = world.slot(days_ahead=2, hour=9)
    world.arm(fault("throttled-create", status(429), first=1))
    world.freeze()
    started = world.clock.now().timestamp()

    with world.caller_rate_limit_wait(65):
        answer = world.driver.collect(slot, name="Max Mustermann", call_id="call_429_once",
                                      telefon="+4915112345678")

    assert answer.status == "booked", answer.body
    assert len(world.upstream(active=False)) == 1
    assert world.requests_seen(*CREATE) == {429: 1, 201: 1}
    assert elapsed_s(world, started) >= 60, "the service did not wait for the window to reset"


@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults", "clock")
def test_429_storm_beyond_the_wait_budget_refuses_then_recovers(world: World) -> None:
    """Every create is throttled: after one window the service stops waiting (its budget is
    65 s) and tells the caller `rate_limited` — nothing booked. When Cal.com lets requests through
    again the same caller books the slot, once."""
    slot = world.slot(days_ahead=2, hour=9, minute=30)
    world.arm(fault("throttled-create", status(429)))
    world.freeze()

    refused = world.driver.collect(slot, name="Max Mustermann", call_id="call_429_storm",
                                   telefon="+4915112345678")
    assert refused.status == "rate_limited", refused.body
    assert refused.body["success"] is False
    assert world.upstream(active=False) == []

    world.fake.clear_faults()
    world.clock.advance(60)
    again = world.driver.collect(slot, name="Max Mustermann", call_id="call_429_storm",
                                 telefon="+4915112345678")
    assert again.status == "booked", again.body
    assert len(world.upstream(active=False)) == 1


@pytest.mark.needs("book", "check", "calcom_journal", "faults", "clock")
def test_429_on_a_slot_query_is_answered_clearly_then_the_caller_books(world: World) -> None:
    """A throttled availability check longer than a caller holds: a clear `upstream_unavailable`
    at once (nothing sent to book); after the window the check answers and the caller books."""
    slot = world.slot(days_ahead=2, hour=10)
    world.arm(fault("throttled-slots", status(429), on=SLOTS, first=1))
    world.freeze()

    heard = world.driver.check(slot, call_id="call_429_reads")
    assert heard.status == "upstream_unavailable", heard.body
    assert world.requests_seen(*CREATE) == {}

    world.clock.advance(60)
    heard = world.driver.check(slot, call_id="call_429_reads")
    assert heard.status == "available", heard.body
    booked = world.driver.collect(slot, name="Max Mustermann", call_id="call_429_reads",
                                  telefon="+4915112345678")
    assert booked.status == "booked", booked.body


@pytest.mark.needs("book", "check", "calcom_journal", "faults", "clock")
def test_429_on_a_slot_query_is_waited_out_for_a_patient_caller(world: World) -> None:
    """A throttled availability check is waited out and answered; the caller then books."""
    slot = world.slot(days_ahead=2, hour=10)
    world.arm(fault("throttled-slots", status(429), on=SLOTS, first=1))
    world.freeze()
    started = world.clock.now().timestamp()

    with world.caller_rate_limit_wait(65):
        heard = world.driver.check(slot, call_id="call_429_reads")
        assert heard.status == "available", heard.body
        assert world.requests_seen(*SLOTS) == {429: 1, 200: 1}
        assert elapsed_s(world, started) >= 60
        booked = world.driver.collect(slot, name="Max Mustermann", call_id="call_429_reads",
                                      telefon="+4915112345678")
    assert booked.status == "booked", booked.body


@pytest.mark.parametrize("limit", [10, 25])
@pytest.mark.needs("book", "check", "ground_truth", "calcom_journal", "clock")
def test_real_throttler_the_service_paces_itself(world: World, limit: int) -> None:
    """Cal.com's fixed-window throttler switched on at `limit` requests per 60 s (blocking for
    60 s once exceeded). Twelve callers in turn check and book a slot each — about three
    requests per caller, several windows' worth. Reading `X-RateLimit-Remaining-Default: 0`
    and `-Reset-`, the service waits for the next window before it sends again, so every
    caller is booked, Cal.com never has to refuse a request, and the virtual time spent is
    at least one window per `limit` requests."""
    world.fake.set_rate_limit(enabled=True, limit=limit, window_s=60, block_s=60)
    world.freeze()
    started = world.clock.now().timestamp()

    with world.caller_rate_limit_wait(65):  # patient callers: the pacing is what is tested
        for i in range(12):
            slot = world.slot(days_ahead=3 + i // 8, hour=9 + i % 8)
            call_id = f"call_paced_{i:02d}"
            heard = world.driver.check(slot, call_id=call_id)
            assert heard.status == "available", heard.body
            answer = world.driver.collect(slot, name=f"Kunde Nummer {i}", call_id=call_id,
                                          telefon=f"+4917012340{i:03d}")
            assert answer.status == "booked", answer.body

    stats = world.fake.stats()
    sent = sum(n for key, n in stats["requests"].items() if key.split(" ")[1].startswith("/v2/"))
    assert stats["rate_limited"] == 0, stats["requests"]
    assert len(world.upstream(active=False)) == 12
    assert elapsed_s(world, started) >= 60 * ((sent - 1) // limit), (sent, limit)
