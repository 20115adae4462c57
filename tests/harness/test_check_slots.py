"""host-slot-exclusive, local-slot-exclusive and one-appointment-per-booking."""

from __future__ import annotations

from checkworld import S1, S1_MS, S2, World

HOST = "host-slot-exclusive"
LOCAL = "local-slot-exclusive"
UIDS = "one-appointment-per-booking"


def test_one_booking_per_host_slot_passes(world: World) -> None:
    world.booking("u1", S1_MS, call_id="call_a")
    world.booking("u2", "2025-10-10T08:30:00.000Z", call_id="call_b")       # back to back
    world.booking("u3", S1_MS, call_id="call_c", hosts=(102,))              # other host
    world.booking("u4", S1_MS, call_id="call_d", status="cancelled")        # freed slot
    verdict = world.check(HOST)
    assert verdict.ok, verdict
    assert verdict.checked == 3


def test_two_active_bookings_on_one_host_slot_fail(world: World) -> None:
    world.collect("call_a", S1, uid="u1")
    world.collect("call_b", S1, uid="u2")
    world.booking("u1", S1_MS, call_id="call_a")
    world.booking("u2", "2025-10-10T08:00:00Z", call_id="call_b", status="pending")
    verdict = world.check(HOST)
    assert not verdict.ok
    assert world.kinds(verdict) == ["double-booking"]
    (v,) = verdict.violations
    assert v.key == "host 101 @ 2025-10-10T08:00:00.000Z"
    assert {b.uid for b in v.bookings} == {"u1", "u2"}
    assert {op.call_id for op in v.operations} == {"call_a", "call_b"}   # the offending calls


def test_overlapping_not_identical_times_fail(world: World) -> None:
    world.booking("u1", S1_MS, call_id="call_a", end="2025-10-10T09:00:00.000Z")  # 60 min
    world.booking("u2", "2025-10-10T08:30:00.000Z", call_id="call_b")
    assert world.kinds(world.check(HOST)) == ["double-booking"]


def test_a_collective_booking_blocks_every_host(world: World) -> None:
    world.booking("team", S1_MS, call_id="call_a", hosts=(101, 103))
    world.booking("solo", S1_MS, call_id="call_b", hosts=(103,))
    verdict = world.check(HOST)
    assert [v.key for v in verdict.violations] == ["host 103 @ 2025-10-10T08:00:00.000Z"]


def test_host_slot_check_is_skipped_without_ground_truth(world: World) -> None:
    verdict = world.check(HOST, truth=False)
    assert verdict.ok
    assert verdict.skipped


def test_one_active_appointment_per_local_slot_passes(world: World) -> None:
    world.appointment("u1", S1, call_id="call_a")
    world.appointment("u2", S2, call_id="call_b")
    world.appointment("u3", S1, call_id="call_c", host=102)
    world.appointment("u4", S1, call_id="call_d", status="cancelled")
    world.appointment("u5", S1, call_id="call_e", status="rescheduled")
    assert world.check(LOCAL).ok


def test_two_active_appointments_in_one_local_slot_fail(world: World) -> None:
    world.appointment("u1", S1, call_id="call_a", id=7)
    world.appointment("u2", S1, call_id="call_b", status="pending", id=8)
    verdict = world.check(LOCAL)
    (v,) = verdict.violations
    assert v.kind == "double-booking"
    assert v.details["layer"] == "local"
    assert [a.id for a in v.appointments] == [7, 8]


def test_appointments_without_host_compete_per_company_event_type(world: World) -> None:
    world.appointment("u1", S1, host=None, company=1)
    world.appointment("u2", S1, host=None, company=2)
    assert world.check(LOCAL).ok
    world.appointment("u3", S1, host=None, company=1)
    assert world.kinds(world.check(LOCAL)) == ["double-booking"]


def test_one_appointment_per_booking_uid_passes(world: World) -> None:
    world.appointment("u1", S1, call_id="call_a")
    world.appointment("u2", S2, call_id="call_b", status="cancelled")
    world.appointment(None, S2, call_id="call_c", status="cancelled")
    assert world.check(UIDS).ok


def test_two_appointments_for_one_uid_fail_whatever_their_status(world: World) -> None:
    # The unique_constraint proof: a webhook import and a reconcile repair of one booking.
    world.booking("u1", S1_MS, origin="outside")
    world.appointment("u1", S1, source="webhook", id=1)
    world.appointment("u1", S1, source="reconcile", status="cancelled", id=2)
    verdict = world.check(UIDS)
    (v,) = verdict.violations
    assert v.kind == "duplicate-appointment"
    assert v.key == "booking u1"
    assert [a.source for a in v.appointments] == ["webhook", "reconcile"]
    assert [b.uid for b in v.bookings] == ["u1"]
