"""The scenario toolkit's world and driver helpers, on a real embedded stack (fake Cal.com and
booking service over loopback): crashes and webhook deliveries at failpoints, changes made in
Cal.com directly, the number a voice request dials, a second service replica, and the defenses
a run switches off through the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.history import Operation
from harness.session import Session
from harness.stack import EmbeddedStack, StackOptions
from harness.world import (
    DEFENSES_OFF_ENV,
    World,
    defense_on_in_env,
    defenses_off_from_env,
    world_for,
)


@pytest.fixture(scope="module")
def toolkit_stack() -> Iterator[Session]:
    """The embedded stack (with a second replica of the service) as a session."""
    options = StackOptions(label="toolkit-tests", allow_docker=False, replica=True)
    with EmbeddedStack(options) as stack, Session(stack.target) as session:
        yield session


@pytest.fixture
def scenario(toolkit_stack: Session) -> Iterator[World]:
    """A clean world, judged by the test itself where the invariants are the point."""
    with world_for(toolkit_stack, judge=False) as world:
        yield world


def ops(world: World, f: str) -> list[Operation]:
    return [op for op in world.history().operations if op.f == f]


# -- the environment ------------------------------------------------------------------------------

def test_defenses_off_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFENSES_OFF_ENV, " slot_lock, freshness ,,")
    assert defenses_off_from_env() == ("slot_lock", "freshness")
    assert not defense_on_in_env("freshness")
    assert defense_on_in_env("webhook_dedupe")
    monkeypatch.delenv(DEFENSES_OFF_ENV)
    assert defenses_off_from_env() == ()
    assert defense_on_in_env("freshness")


def test_defense_on_asks_the_running_service(toolkit_stack: Session) -> None:
    with world_for(toolkit_stack, defenses_off=["slot_lock"], judge=False) as world:
        assert not world.defense_on("slot_lock")
        assert world.defense_on("freshness")


# -- failpoints -----------------------------------------------------------------------------------

def test_crash_at_kills_the_flow_there_the_given_number_of_times(scenario: World) -> None:
    crashed = scenario.crash_at("collect.before_insert", times=1)

    first = scenario.driver.collect(scenario.slot(days_ahead=2, hour=9), name="Anna Alt",
                                    call_id="call_crash_1")
    second = scenario.driver.collect(scenario.slot(days_ahead=2, hour=10), name="Bernd Berg",
                                     call_id="call_crash_2")

    assert first.status == "error", first.body  # died after Cal.com booked, before storing
    assert second.status == "booked", second.body  # only the first time
    assert [c.get("call_id") for c in crashed] == ["call_crash_1"]
    assert len(scenario.upstream()) == 2


def test_deliver_webhooks_at_lets_the_webhook_overtake_the_flow(scenario: World) -> None:
    held = scenario.deliver_webhooks_at("collect.before_insert")

    booked = scenario.driver.collect(scenario.slot(days_ahead=2, hour=9), name="Anna Alt",
                                     call_id="call_overtaken")

    assert booked.status == "booked", booked.body
    assert [h["booking_uid"] for h in held] == [booked.body["booking_uid"]]
    created = [d for d in scenario.fake.state()["webhook_deliveries"]
               if d["triggerEvent"] == "BOOKING_CREATED"]
    assert [d["outcome"] for d in created] == ["sent"]
    scenario.judge()


# -- the outside world ------------------------------------------------------------------------

def test_changes_in_calcom_are_made_there_and_recorded(scenario: World) -> None:
    slot, later = scenario.slot(days_ahead=2, hour=9), scenario.slot(days_ahead=2, hour=15)
    outside = scenario.driver.take_slot(2001, slot, name="Olga Outside", email="olga@example.com")

    moved = scenario.driver.outside_reschedule(outside["uid"], later)
    cancelled = scenario.driver.outside_cancel(moved["uid"], reason="Krank")
    scenario.settle()

    assert moved["start"].startswith(later.start[:-1])
    assert moved["uid"] != outside["uid"]
    assert cancelled["status"] == "cancelled"
    assert scenario.upstream() == []
    recorded = [(op.f, op.type, op.call_id, op.slot, op.request["booking_uid"])
                for op in scenario.history().operations if op.process == "w0:outside-calcom"]
    assert recorded == [("reschedule", "ok", None, later.start, outside["uid"]),
                        ("cancel", "ok", None, None, moved["uid"])]
    scenario.judge()


def test_a_change_cal_com_refuses_fails_loudly_and_is_recorded(scenario: World) -> None:
    with pytest.raises(AssertionError, match=r"Cal\.com refused"):
        scenario.driver.outside_cancel("no-such-booking")
    [op] = ops(scenario, "cancel")
    assert (op.process, op.type) == ("w0:outside-calcom", "fail")


# -- the number dialled ---------------------------------------------------------------------------

def test_cancel_and_reschedule_dial_the_number_given(scenario: World) -> None:
    d = scenario.driver
    slot, later = scenario.slot(days_ahead=2, hour=9), scenario.slot(days_ahead=2, hour=15)
    booked = d.collect(slot, name="Anna Alt", call_id="call_dial")
    appointment_id = booked.body["appointment_id"]
    hamburg = scenario.hamburg.phone

    foreign_move = d.reschedule(call_id="call_dial", new_slot=later,
                                appointment_id=appointment_id, to_number=hamburg)
    foreign_cancel = d.cancel(call_id="call_dial", appointment_id=appointment_id,
                              to_number=hamburg)
    moved = d.reschedule(call_id="call_dial", new_slot=later, appointment_id=appointment_id)
    cancelled = d.cancel(call_id="call_dial", appointment_id=moved.body["appointment_id"])

    assert (foreign_move.status, foreign_cancel.status) == ("not_found", "not_found")
    assert (moved.status, cancelled.status) == ("rescheduled", "cancelled")
    dialled = [(op.f, op.request.get("to_number")) for op in scenario.history().operations
               if op.f in ("reschedule", "cancel")]
    berlin = scenario.berlin.phone  # the number calls dial unless told otherwise
    assert dialled == [("reschedule", hamburg), ("cancel", hamburg), ("reschedule", berlin),
                       ("cancel", berlin)]
    scenario.judge()


# -- a second replica -----------------------------------------------------------------------------

def test_a_replica_shares_the_database_and_the_history(scenario: World) -> None:
    slot = scenario.slot(days_ahead=2, hour=11)

    with scenario.replica() as second:
        replica_url = second.service.base_url
        booked = second.collect(slot, name="Anna Alt", call_id="call_on_replica")
        taken = scenario.driver.collect(slot, name="Bernd Berg", call_id="call_on_first")

    assert replica_url != scenario.session.target.service_url
    assert booked.status == "booked", booked.body
    assert taken.status == "slot_taken", taken.body  # the first replica sees the appointment
    assert [op.call_id for op in ops(scenario, "collect")] == ["call_on_replica",
                                                               "call_on_first"]
    scenario.judge()


def test_a_scenario_without_a_capability_is_refused_by_name(scenario: World) -> None:
    from harness.capabilities import MissingCapability

    scenario.session.capabilities = scenario.session.capabilities - {"clock"}
    try:
        with pytest.raises(MissingCapability, match="missing capability: clock"):
            scenario.freeze()
    finally:
        scenario.session.capabilities = scenario.session.capabilities | {"clock"}
