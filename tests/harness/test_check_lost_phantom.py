"""no-lost-booking (both directions, info outcomes, never twice) and no-phantom-booking."""

from __future__ import annotations

from checkworld import S1, S1_MS, S2, World

from harness.checks import CheckOptions

LOST = "no-lost-booking"
PHANTOM = "no-phantom-booking"


def booked(world: World, call_id: str, uid: str, slot: str = S1) -> None:
    """A caller told booked, with the appointment and the upstream booking made for them."""
    world.collect(call_id, slot, uid=uid)
    world.booking(uid, slot, call_id=call_id)
    world.appointment(uid, slot, call_id=call_id)


def test_told_booked_with_appointment_and_booking_passes(world: World) -> None:
    booked(world, "call_a", "u1")
    world.collect("call_b", S1, status="slot_taken")          # the loser of the race
    booked(world, "call_b", "u2", S2)                          # …books an alternative
    verdict = world.check(LOST)
    assert verdict.ok, verdict
    assert verdict.checked == 4     # two (call, uid) answers and two calls with bookings


def test_cancelled_bookings_stay_accounted_for(world: World) -> None:
    booked(world, "call_a", "u1")
    world.bookings[-1].status = "cancelled"
    world.appointments[-1].status = "cancelled"
    world.op("cancel", call_id="call_a", slot=S1, answer={"success": True, "status": "cancelled"})
    assert world.check(LOST).ok


def test_told_booked_but_no_upstream_booking_fails(world: World) -> None:
    world.collect("call_a", S1, uid="ghost")
    world.appointment("ghost", S1, call_id="call_a")
    verdict = world.check(LOST)
    (v,) = verdict.violations
    assert v.kind == "lost-booking"
    assert "Cal.com has no such booking" in v.message
    assert v.details["direction"] == "told-booked"


def test_told_booked_but_no_appointment_fails(world: World) -> None:
    world.collect("call_a", S1, uid="u1")
    world.booking("u1", S1_MS, call_id="call_a")
    (v,) = world.check(LOST).violations
    assert v.message.endswith("the service has no appointment for it")


def test_booking_made_for_a_caller_told_slot_taken_is_lost(world: World) -> None:
    # ambiguous_create_lookup off: the first create hung after committing, the blind retry hit
    # the caller's own booking and the service answered slot_taken.
    world.collect("call_a", S1, status="slot_taken")
    world.booking("u1", S1_MS, call_id="call_a")
    verdict = world.check(LOST)
    (v,) = verdict.violations
    assert v.kind == "lost-booking"
    assert v.details["direction"] == "booked-untold"
    assert "fail slot_taken" in v.message
    assert [op.status for op in v.operations] == ["slot_taken"]


def test_an_unknown_outcome_may_have_booked(world: World) -> None:
    world.collect("call_a", S1, status="timeout")            # info: may go either way
    world.booking("u1", S1_MS, call_id="call_a")
    assert world.check(LOST).ok


def test_after_a_repairing_reconciliation_unknown_outcomes_excuse_nothing(world: World) -> None:
    # ambiguous_create_lookup off, the service answered "timeout": only reconciliation tells.
    world.collect("call_a", S1, status="timeout")
    world.booking("u1", S1_MS, call_id="call_a")
    verdict = world.check(LOST, options=CheckOptions(reconciled=True))
    assert world.kinds(verdict) == ["lost-booking"]
    assert "info timeout" in verdict.violations[0].message
    world.appointment("u1", S1, call_id="call_a", source="reconcile")
    assert world.check(LOST, options=CheckOptions(reconciled=True)).ok


def test_an_unknown_outcome_for_another_slot_does_not_excuse(world: World) -> None:
    world.collect("call_a", S2, status="timeout")
    world.collect("call_a", S1, status="slot_taken")
    world.booking("u1", S1_MS, call_id="call_a")
    assert world.kinds(world.check(LOST)) == ["lost-booking"]


def test_unknown_outcomes_never_book_twice(world: World) -> None:
    world.collect("call_a", S1, status="timeout")
    world.collect("call_a", S1, status="timeout")
    world.booking("u1", S1_MS, call_id="call_a")
    world.booking("u2", S1_MS, call_id="call_a", hosts=(102,))   # round robin: another host
    verdict = world.check(LOST)
    (v,) = verdict.violations
    assert v.kind == "duplicate-booking"
    assert {b.uid for b in v.bookings} == {"u1", "u2"}
    assert len(v.operations) == 2


def test_lost_check_needs_the_history_and_calcom(world: World) -> None:
    verdict = world.check(LOST, history=False)
    assert verdict.ok
    assert verdict.skipped == "no history"


def test_bookings_somebody_asked_for_are_not_phantoms(world: World) -> None:
    booked(world, "call_a", "u1")
    world.collect("call_b", S2, status="timeout")               # unknown outcome, booked anyway
    world.booking("u2", S2, call_id="call_b")
    world.booking("u3", S1_MS, origin="outside", hosts=(102,))  # the harness's outside booker
    world.booking("u4", S2, call_id="call_other", owner=999)    # another integration's key
    verdict = world.check(PHANTOM, options=CheckOptions(service_key_owners=frozenset({101})))
    assert verdict.ok, verdict
    assert verdict.checked == 2


def test_a_booking_for_a_call_that_never_asked_is_a_phantom(world: World) -> None:
    world.collect("call_a", S1, uid="u1")
    world.booking("u1", S1_MS, call_id="call_a")
    world.booking("u9", S2, call_id="call_nobody")
    verdict = world.check(PHANTOM)
    (v,) = verdict.violations
    assert v.kind == "phantom-booking"
    assert v.key == "booking u9"


def test_a_booking_at_a_slot_the_caller_did_not_ask_for_is_a_phantom(world: World) -> None:
    world.collect("call_a", S1, status="slot_taken")
    world.booking("u2", S2, call_id="call_a")                 # booked an alternative unasked
    assert world.kinds(world.check(PHANTOM)) == ["phantom-booking"]
    assert world.check(LOST).ok                               # reported once, as a phantom


def test_a_check_only_request_asks_for_no_booking(world: World) -> None:
    world.collect("call_a", S1, status="confirmation_required", bestaetigung=False)
    world.booking("u1", S1_MS, call_id="call_a")
    assert world.kinds(world.check(PHANTOM)) == ["phantom-booking"]


def test_a_booking_without_call_id_is_a_phantom_unless_an_answer_names_it(world: World) -> None:
    world.booking("u1", S1_MS, call_id=None)
    assert world.kinds(world.check(PHANTOM)) == ["phantom-booking"]
    world.collect("call_a", S1, uid="u1")
    assert world.check(PHANTOM).ok


def test_a_reschedule_asks_for_its_new_slot(world: World) -> None:
    booked(world, "call_a", "u1")
    world.op("reschedule", call_id="call_x", slot=S2, outcome="info")
    world.booking("u2", S2, call_id=None, rescheduled_from="u1")
    assert world.check(PHANTOM).ok


def test_refused_caller_whose_booking_reconciliation_imported_is_still_lost(world: World) -> None:
    # The caller heard slot_taken (a definite refusal); reconcile --repair later imported the
    # booking made for their call. The appointment exists, but the caller does not know of it.
    world.collect("call_a", S1, status="slot_taken")
    world.booking("u1", S1_MS, call_id="call_a")
    world.appointment("u1", S1, call_id="call_a")
    for options in (CheckOptions(), CheckOptions(reconciled=True)):
        (v,) = world.check(LOST, options=options).violations
        assert v.details["direction"] == "booked-untold"
        assert "the caller does not know of" in v.message


def test_unknown_outcome_then_reconciled_appointment_is_accounted_for(world: World) -> None:
    # The same booking after an *unknown* outcome (a timeout) is what reconciliation is for.
    world.op("collect", call_id="call_a", slot=S1, outcome="info", answer={"error": "timeout"})
    world.booking("u1", S1_MS, call_id="call_a")
    world.appointment("u1", S1, call_id="call_a")
    assert world.check(LOST, options=CheckOptions(reconciled=True)).ok


# -- answers that name no Cal.com booking (a service with references of its own) ---------------

def unnamed_booked(world: World, call_id: str, slot: str = S1) -> None:
    """The service says "booked" with its own reference only (no Cal.com uid in the answer)."""
    world.collect(call_id, slot, uid=None)


def test_an_unnamed_booked_answer_backed_by_the_calls_booking_passes(world: World) -> None:
    unnamed_booked(world, "call_a")
    world.booking("u1", S1_MS, call_id="call_a")
    world.appointment("u1", S1, call_id="call_a")
    verdict = world.check(LOST)
    assert verdict.ok, verdict


def test_an_unnamed_booked_answer_without_a_booking_is_a_lost_booking(world: World) -> None:
    """ "booked" with a made-up reference while Cal.com failed: nothing holds the slot for it."""
    unnamed_booked(world, "call_a")
    world.booking("u1", S1_MS, call_id="call_b")  # someone else's booking at that start
    (v,) = world.check(LOST).violations
    assert v.kind == "lost-booking"
    assert v.details == {"direction": "told-booked", "named": False}
    assert "no active booking made for it there" in v.message


def test_without_a_service_view_the_cal_com_side_is_still_judged(world: World) -> None:
    """A stateless service shows no appointments: the check judges what Cal.com holds."""
    unnamed_booked(world, "call_a")
    booked_elsewhere = world.check(LOST, service=False)
    assert not booked_elsewhere.ok
    world.booking("u1", S1_MS, call_id="call_a")
    assert world.check(LOST, service=False).ok
