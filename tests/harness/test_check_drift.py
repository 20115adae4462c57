"""db-matches-calcom: the service's appointments against Cal.com's ground truth."""

from __future__ import annotations

from checkworld import S1, S1_MS, S2, World

from harness.checks import CheckOptions

NAME = "db-matches-calcom"


def test_agreeing_states_pass(world: World) -> None:
    world.booking("u1", S1_MS, call_id="call_a")
    world.appointment("u1", S1, call_id="call_a", customer=" hans  SCHUSTER ")
    world.booking("u2", S2, status="cancelled")
    world.appointment("u2", S2, status="cancelled")
    world.booking("u3", S2, status="pending", hosts=(102,))
    world.appointment("u3", S2, status="pending", host=102)
    world.appointment(None, S2, status="cancelled")
    world.booking("u4", S1_MS, origin="outside", hosts=(103,))   # not imported: not required
    verdict = world.check(NAME)
    assert verdict.ok, verdict
    assert verdict.checked == 4


def test_local_active_but_cancelled_upstream_fails(world: World) -> None:
    # webhook_ordering off: CANCELLED then CREATED revived the appointment.
    world.booking("u1", S1_MS, origin="outside", status="cancelled")
    world.appointment("u1", S1, source="webhook", id=5)
    (v,) = world.check(NAME).violations
    assert v.kind == "drift"
    assert v.message == "appointment 5: local scheduled but Cal.com booking is cancelled"


def test_local_active_but_missing_upstream_fails(world: World) -> None:
    world.appointment("gone", S1)
    assert "Cal.com has no booking gone" in world.check(NAME).violations[0].message


def test_local_cancelled_but_active_upstream_fails(world: World) -> None:
    # webhook_signature off: a forged CANCELLED cancelled the local row only.
    world.booking("u1", S1_MS)
    world.appointment("u1", S1, status="cancelled")
    assert world.kinds(world.check(NAME)) == ["drift"]


def test_time_and_attendee_mismatch_fail(world: World) -> None:
    world.booking("u1", S1_MS, attendee="Hansi Sputer")
    world.appointment("u1", S2, customer="Hans Schuster")
    (v,) = world.check(NAME).violations
    assert len(v.details["reasons"]) == 2
    assert "start differs" in v.message
    assert "attendee differs: local 'Hans Schuster', Cal.com 'Hansi Sputer'" in v.message


def test_end_mismatch_fails(world: World) -> None:
    world.booking("u1", S1_MS)
    world.appointment("u1", S1, end="2025-10-10T09:00:00Z")
    assert "end differs" in world.check(NAME).violations[0].message


def test_an_active_appointment_without_uid_fails(world: World) -> None:
    world.appointment(None, S1)
    assert "no Cal.com booking uid" in world.check(NAME).violations[0].message


def test_expect_imported_requires_an_appointment_for_every_active_booking(world: World) -> None:
    world.booking("u4", S1_MS, origin="outside")
    world.booking("u5", S2, status="cancelled")
    verdict = world.check(NAME, options=CheckOptions(expect_imported=True))
    assert [v.key for v in verdict.violations] == ["booking u4"]
