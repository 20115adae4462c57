"""The Cal.com circuit breaker: closed → open → half-open → closed (seeds/001 §1.2: "opens after
5 consecutive failures; the 6th call answers circuit_open and makes no API call").

Timed by the shared clock, frozen here: the scenario advances it past the open time (30 s)
instead of waiting. While open the service must not touch Cal.com at all, must tell callers
`circuit_open` with a message, and must book nothing; half-open lets exactly one probe through;
the probe's answer decides. `/healthz` reports the state.
"""

from __future__ import annotations

import pytest

from harness.faults import CREATE, SLOTS, fault, latency_ms, status
from harness.world import World
from scenarios.resilience._support import circuit_state

pytestmark = [pytest.mark.area("resilience"),
              pytest.mark.rca("tc-012")]

OPEN_S = 30  # Settings.circuit_open_s
THRESHOLD = 5  # Settings.circuit_failure_threshold


def calls_to_calcom(world: World) -> int:
    return sum(n for key, n in world.fake.stats()["requests"].items()
               if key.split(" ")[1].startswith("/v2/"))


def open_the_circuit(world: World) -> None:
    """Cal.com answers every slot query 503 until the circuit opens: four attempts of the first
    check (one try, three retries), the fifth failure in the second check."""
    world.arm(fault("calcom-down", status(503), on=SLOTS))
    world.freeze()
    slot = world.slot(days_ahead=2, hour=9)
    first = world.driver.check(slot, call_id="call_cb_1")
    assert first.status == "upstream_unavailable", first.body
    assert circuit_state(world) == "closed"
    second = world.driver.check(slot, call_id="call_cb_2")
    assert second.status == "circuit_open", second.body
    assert circuit_state(world) == "open"
    assert calls_to_calcom(world) == THRESHOLD


@pytest.mark.needs("book", "check", "voice_api", "ground_truth", "calcom_journal", "faults",
                   "clock")
def test_open_circuit_sends_nothing_and_books_nothing(world: World) -> None:
    open_the_circuit(world)
    slot = world.slot(days_ahead=2, hour=10)

    booking = world.driver.collect(slot, name="Max Mustermann", call_id="call_cb_3",
                                   telefon="+4915112345678")
    check = world.driver.check(slot, call_id="call_cb_4")

    for answer in (booking, check):
        assert answer.http_status == 200
        assert answer.status == "circuit_open", answer.body
        assert answer.body["success"] is False
        assert answer.body["message"]
    assert calls_to_calcom(world) == THRESHOLD, "the open circuit let a request through"
    assert world.upstream(active=False) == []


@pytest.mark.needs("book", "check", "voice_api", "ground_truth", "calcom_journal", "faults",
                   "clock")
def test_half_open_probe_succeeds_and_closes_the_circuit(world: World) -> None:
    open_the_circuit(world)
    world.fake.clear_faults()  # Cal.com is back, but the circuit does not know yet
    slot = world.slot(days_ahead=2, hour=10, minute=30)
    early = world.driver.check(slot, call_id="call_cb_early")
    assert early.status == "circuit_open", early.body

    world.clock.advance(OPEN_S)
    assert circuit_state(world) == "half_open"
    booked = world.driver.collect(slot, name="Max Mustermann", call_id="call_cb_probe",
                                  telefon="+4915112345678")

    assert booked.status == "booked", booked.body
    assert circuit_state(world) == "closed"
    assert len(world.upstream(active=False)) == 1


@pytest.mark.needs("book", "check", "voice_api", "calcom_journal", "faults", "clock")
def test_half_open_probe_fails_and_the_circuit_opens_again(world: World) -> None:
    open_the_circuit(world)
    world.clock.advance(OPEN_S)
    assert circuit_state(world) == "half_open"

    slot = world.slot(days_ahead=2, hour=11)
    probe = world.driver.check(slot, call_id="call_cb_probe")
    assert probe.status == "circuit_open", probe.body
    assert calls_to_calcom(world) == THRESHOLD + 1, "half-open must let exactly one probe through"
    assert circuit_state(world) == "open"

    refused = world.driver.collect(slot, name="Max Mustermann", call_id="call_cb_after",
                                   telefon="+4915112345678")
    assert refused.status == "circuit_open", refused.body
    assert calls_to_calcom(world) == THRESHOLD + 1
    assert world.requests_seen(*CREATE) == {}


@pytest.mark.needs("check", "voice_api", "calcom_journal", "faults", "clock")
def test_half_open_lets_one_probe_through_while_callers_crowd_in(world: World) -> None:
    """Three callers arrive together once the open time is over, and Cal.com is slow to answer
    the probe (300 ms). Only the probe may reach Cal.com; the others are told `circuit_open`
    at once rather than piling onto a service that may still be down."""
    open_the_circuit(world)
    world.fake.clear_faults()
    world.arm(fault("slow-probe", latency_ms(300), on=SLOTS, first=1))
    world.clock.advance(OPEN_S)
    slot = world.slot(days_ahead=2, hour=11, minute=30)

    answers = world.driver.concurrently([
        (lambda i=i: world.driver.acheck(slot, call_id=f"call_crowd_{i}")) for i in range(3)])

    assert sorted(a.status for a in answers) == ["available", "circuit_open", "circuit_open"], \
        [a.body for a in answers]
    assert calls_to_calcom(world) == THRESHOLD + 1
    assert circuit_state(world) == "closed"
