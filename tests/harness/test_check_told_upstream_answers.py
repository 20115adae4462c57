"""told-matches-booked, one-upstream-booking-per-call and clear-answers: each passes a clean
world and fails on the planted violation it exists for."""

from __future__ import annotations

from typing import Any

from checkworld import S1, S1_MS, S2, World

from harness.checks import CheckOptions, run_all

TOLD = "told-matches-booked"
ONE = "one-upstream-booking-per-call"
CLEAR = "clear-answers"

WINTER = "2025-12-05T09:00:00Z"       # Friday 05.12.2025 10:00 in Berlin (CET, UTC+1)
WINTER_MS = "2025-12-05T09:00:00.000Z"


def told(world: World, call_id: str, slot: str, uid: str, message: str | None = None,
         **args: Any) -> None:
    """A caller told booked at `slot` with `message`, and the appointment for it."""
    op = world.collect(call_id, slot, uid=uid)
    assert op.completion is not None
    assert isinstance(op.completion.value, dict)
    if message is not None:
        op.completion.value["message"] = message
    if args:
        assert isinstance(op.invoke.value, dict)
        op.invoke.value.update(args)
    world.appointment(uid, slot, call_id=call_id)


def test_a_caller_told_what_calcom_holds_passes(world: World) -> None:
    told(world, "call_a", S1, "u1", "Ihr Termin am Freitag, 10.10.2025 um 10:00 Uhr ist gebucht.")
    world.booking("u1", S1_MS, call_id="call_a")
    told(world, "call_w", WINTER, "u2", "Ihr Termin am Freitag, 05.12.2025 um 10:00 Uhr ist gebucht.")
    world.booking("u2", WINTER_MS, call_id="call_w")
    verdicts = run_all(world.history(), world.service(), world.truth(),
                       only=[TOLD, ONE, CLEAR])
    assert all(v.ok for v in verdicts), [str(v) for v in verdicts]
    assert verdicts[0].checked == 2


def test_summer_time_slip_in_the_spoken_time_fails(world: World) -> None:
    # The booking is right (08:00Z = 10:00 CEST) but the caller hears winter time (09:00).
    told(world, "call_a", S1, "u1", "Ihr Termin am Freitag, 10.10.2025 um 09:00 Uhr ist gebucht.")
    world.booking("u1", S1_MS, call_id="call_a")
    (v,) = world.check(TOLD).violations
    assert v.kind == "told-mismatch"
    assert "10.10.2025 10:00 Europe/Berlin" in v.message


def test_booked_an_hour_off_the_asked_slot_fails(world: World) -> None:
    # The service converted 10:00 Berlin with the winter offset: Cal.com holds 09:00Z.
    told(world, "call_a", S1, "u1")
    world.booking("u1", "2025-10-10T09:00:00.000Z", call_id="call_a")
    (v,) = world.check(TOLD).violations
    assert "the caller asked for 2025-10-10T08:00:00Z" in v.message
    assert "the answer says start" in v.message


def test_wrong_weekday_fails(world: World) -> None:
    told(world, "call_a", S1, "u1", "Ihr Termin am Donnerstag, 10.10.2025 um 10:00 Uhr ist gebucht.")
    world.booking("u1", S1_MS, call_id="call_a")
    (v,) = world.check(TOLD).violations
    assert "Donnerstag" in v.message
    assert "Freitag" in v.message


def test_other_attendee_and_email_fail(world: World) -> None:
    told(world, "call_a", S1, "u1", name="Erika Muster", email="erika@example.org")
    world.booking("u1", S1_MS, call_id="call_a", attendee="Hans Schuster")
    (v,) = world.check(TOLD).violations
    assert "'Erika Muster'" in v.message
    assert "e-mail" in v.message


def test_event_type_disagreement_fails(world: World) -> None:
    told(world, "call_a", S1, "u1")
    b = world.booking("u1", S1_MS, call_id="call_a")
    b.event_type_id = 2002                                  # the appointment says 2001
    told(world, "call_b", S2, "u2")
    world.booking("u2", "2025-10-10T08:30:00.000Z", call_id="call_b").event_type_id = 2001
    messages = [v.message for v in world.check(TOLD).violations]
    assert any("event type 2001 but Cal.com's booking is of event type 2002" in m
               for m in messages)
    assert any("2 different Cal.com event types" in m for m in messages)


def test_retry_leaving_a_second_booking_on_another_host_fails(world: World) -> None:
    world.collect("call_a", S1, status="timeout", outcome="info")   # committed, answer lost
    told(world, "call_a", S1, "u2")                                 # the retry booked again
    world.booking("u1", S1_MS, call_id="call_a", hosts=(101,))
    world.booking("u2", S1_MS, call_id="call_a", hosts=(102,))
    verdict = world.check(ONE)
    assert [v.kind for v in verdict.violations] == ["second-upstream-booking"]
    assert "2 active Cal.com bookings" in verdict.violations[0].message


def test_retry_booking_a_second_start_fails(world: World) -> None:
    world.collect("call_a", S1, status="timeout", outcome="info")
    world.booking("u1", S1_MS, call_id="call_a")
    world.booking("u2", "2025-10-10T09:00:00.000Z", call_id="call_a")  # the retry's, shifted
    messages = [v.message for v in world.check(ONE).violations]
    assert any("asked to book 1 slot(s) but holds active Cal.com bookings at 2 starts" in m
               for m in messages)


def test_reschedule_that_leaves_the_old_booking_fails(world: World) -> None:
    told(world, "call_a", S1, "u1")
    world.booking("u1", S1_MS, call_id="call_a")
    world.op("reschedule", call_id="call_a", slot=S2, request={"call_id": "call_a"},
             answer={"success": True, "status": "rescheduled", "booking_uid": "u2", "start": S2})
    world.booking("u2", "2025-10-10T08:30:00.000Z", call_id="call_a", rescheduled_from="u1")
    messages = [v.message for v in world.check(ONE).violations]
    assert messages == ["booking u1 (2025-10-10T08:00:00.000Z) of call call_a was rescheduled "
                        "to u2 (2025-10-10T08:30:00.000Z) but is still active"]
    world.bookings[0].status = "cancelled"
    assert world.check(ONE).ok


def test_two_slots_asked_two_bookings_pass(world: World) -> None:
    told(world, "call_a", S1, "u1")
    told(world, "call_a", S2, "u2")
    world.booking("u1", S1_MS, call_id="call_a")
    world.booking("u2", "2025-10-10T08:30:00.000Z", call_id="call_a")
    assert world.check(ONE).ok


def test_5xx_and_traceback_answers_fail(world: World) -> None:
    world.op("collect", call_id="call_a", slot=S1, outcome="info",
             answer={"http_status": 500, "body": "Internal Server Error"})
    world.op("collect", call_id="call_b", slot=S1, outcome="info",
             answer={"http_status": 200, "body": "<html>oops</html>"})
    world.op("collect", call_id="call_c", slot=S1, outcome="fail", answer={
        "success": False, "status": "error", "reason": None,
        "message": 'Traceback (most recent call last):\n  File "x.py", line 1'})
    world.op("collect", call_id="call_d", slot=S1, outcome="fail", answer={
        "success": False, "status": "error",
        "reason": "(sqlite3.IntegrityError) UNIQUE constraint failed", "message": "Fehler."})
    world.op("collect", call_id="call_e", slot=S1, outcome="fail",
             answer={"success": "no", "status": "Slot taken!", "message": ["?"]})
    world.op("collect", call_id="call_f", slot=S1, outcome="info", answer={"error": "timeout"})
    verdict = world.check(CLEAR)
    keys = [v.key.split()[-1] for v in verdict.violations]
    assert keys == ["call_a", "call_b", "call_c", "call_d", "call_e"]   # no answer: not judged
    assert "HTTP 500" in verdict.violations[0].message
    assert "without a JSON object" in verdict.violations[1].message
    assert "Traceback" in verdict.violations[2].message
    assert "reason" in verdict.violations[3].message
    problems = verdict.violations[4].details["problems"]
    assert len(problems) == 3   # status, success, message


def test_clear_refusals_and_outside_changes_pass(world: World) -> None:
    world.op("collect", call_id="call_a", slot=S1, outcome="fail", answer={
        "success": False, "status": "duplicate", "reason": "existing_appointment_returned",
        "message": "Sie haben zu diesem Zeitpunkt bereits einen Termin."})
    world.op("cancel", process="outside-calcom", request={"booking_uid": "u1", "by": "host"},
             answer={"status": "success", "data": {}})
    verdict = world.check(CLEAR)
    assert verdict.ok, verdict
    assert verdict.checked == 1


def test_new_checkers_run_in_run_all() -> None:
    world = World()
    told(world, "call_a", S1, "u1", "Ihr Termin am Freitag, 10.10.2025 um 11:00 Uhr ist gebucht.")
    world.booking("u1", S1_MS, call_id="call_a")
    verdicts = {v.name: v for v in run_all(world.history(), world.service(), world.truth(),
                                           options=CheckOptions())}
    assert not verdicts[TOLD].ok
    assert verdicts[ONE].ok
    assert verdicts[CLEAR].ok


def test_a_retry_that_renames_the_caller_keeps_the_first_name_booked(world: World) -> None:
    told(world, "call_a", S1, "u1")                                   # as Hans Schuster
    told(world, "call_a", S1, "u1", name="Hansi Sputer")               # the retry, renamed
    world.booking("u1", S1_MS, call_id="call_a", attendee="Hans Schuster")
    assert world.check(TOLD).ok
