"""no-stolen-booking: the Call 687/688 case and its relatives."""

from __future__ import annotations

from checkworld import S1, S1_MS, S2, World

from harness.checks import GroundTruth, ServiceView, run
from harness.history import HistoryRecorder

NAME = "no-stolen-booking"


def test_callers_holding_their_own_bookings_pass(world: World) -> None:
    world.booking("u1", S1_MS, call_id="call_a")
    world.collect("call_a", S1, uid="u1")
    world.collect("call_a", S1, uid="u1")      # an idempotent retry answers the same booking
    world.appointment("u1", S1, call_id="call_a")
    world.booking("u2", S2, origin="outside")  # imported by its webhook: no call holds it
    world.appointment("u2", S2, source="webhook")
    verdict = world.check(NAME)
    assert verdict.ok, verdict
    assert verdict.checked == 2     # one (call, uid) answer key, one appointment linked to a call


def test_call_688_told_booked_with_call_687s_booking_fails() -> None:
    # The incident, from the fake's ground-truth JSON (contract §1.7) and the service's answer.
    truth = GroundTruth.from_json({"now": "2025-10-06T09:40:00.000Z", "bookings": [{
        "id": 11489895, "uid": "8Fxv4pCqnb1Jva1w9wn5wX", "status": "accepted",
        "start": "2025-10-10T08:00:00.000Z", "end": "2025-10-10T08:30:00.000Z",
        "eventTypeId": 2004, "hostIds": [101],
        "attendees": [{"name": "Hansi Sputer", "email": "termin@praxis-berlin.example"}],
        "metadata": {"call_id": "call_927bf219b2cc20cd24dc97c9f0b"},
        "createdAt": "2025-10-06T09:05:21.002Z", "updatedAt": "2025-10-06T09:05:21.002Z",
        "origin": {"kind": "api", "api_key_owner": 101}}], "webhook_deliveries": []})
    service = ServiceView.from_json([{
        "id": 18, "company_id": 1, "call_id": "call_688", "customer": {"id": 4, "name": "Hans Schuster"},
        "start": "2025-10-10T08:00:00Z", "end": "2025-10-10T08:30:00Z", "status": "scheduled",
        "booking_uid": "8Fxv4pCqnb1Jva1w9wn5wX", "host_id": 101, "source": "voice"}])
    rec = HistoryRecorder()
    rec.invoke("caller-688", "collect", "call_688", S1, {"name": "Hans Schuster"}).answer(
        {"success": True, "status": "booked", "appointment_id": 18,
         "booking_uid": "8Fxv4pCqnb1Jva1w9wn5wX"})
    verdict = run(NAME, rec.history(), service, truth)
    (v,) = verdict.violations
    assert v.kind == "stolen-booking"
    assert v.key == "call call_688 / booking 8Fxv4pCqnb1Jva1w9wn5wX"
    assert "made for call call_927bf219b2cc20cd24dc97c9f0b" in v.message
    assert "Hansi Sputer" in v.message
    assert [op.call_id for op in v.operations] == ["call_688"]
    assert [a.id for a in v.appointments] == [18]


def test_a_booking_made_by_an_outside_booker_is_stolen_when_handed_out(world: World) -> None:
    # freshness / attendee_match off: Cal.com's dedupe returns the outside booking.
    world.booking("old", S1_MS, origin="outside", attendee="Outside Booker")
    world.collect("call_b", S1, uid="old")
    verdict = world.check(NAME)
    assert world.kinds(verdict) == ["stolen-booking"]
    assert "outside booker (Outside Booker" in verdict.violations[0].message


def test_an_appointment_alone_linking_a_call_to_anothers_booking_fails(world: World) -> None:
    # No answer recorded (e.g. the caller hung up), but the row links the call to the booking.
    world.booking("u1", S1_MS, call_id="call_a")
    world.appointment("u1", S1, call_id="call_b")
    verdict = world.check(NAME)
    assert world.kinds(verdict) == ["stolen-booking"]
    assert "is linked by an appointment to" in verdict.violations[0].message


def test_an_api_booking_without_call_id_is_not_the_callers(world: World) -> None:
    world.booking("u1", S1_MS, call_id=None)
    world.collect("call_b", S1, uid="u1")
    assert world.kinds(world.check(NAME)) == ["stolen-booking"]


def test_rescheduled_bookings_belong_to_the_original_call_and_the_rescheduler(world: World) -> None:
    world.booking("u1", S1_MS, call_id="call_a", status="cancelled")
    world.booking("u2", S2, call_id=None, rescheduled_from="u1")   # metadata not carried over
    world.collect("call_a", S1, uid="u1")
    world.op("reschedule", call_id="call_r", slot=S2, request={"neue_uhrzeit": "10:30"},
             answer={"success": True, "status": "rescheduled", "booking_uid": "u2"})
    world.appointment("u1", S1, call_id="call_a", status="rescheduled")
    world.appointment("u2", S2, call_id="call_a")
    assert world.check(NAME).ok


def test_a_reschedule_answered_with_someone_elses_booking_fails(world: World) -> None:
    world.booking("theirs", S2, origin="outside")
    world.op("reschedule", call_id="call_r", slot=S2,
             answer={"success": True, "status": "rescheduled", "booking_uid": "theirs"})
    assert world.kinds(world.check(NAME)) == ["stolen-booking"]


def test_failed_answers_naming_a_booking_hold_nothing(world: World) -> None:
    world.booking("u1", S1_MS, origin="outside")
    world.collect("call_b", S1, status="stale_booking_data", uid="u1")
    assert world.check(NAME).ok


def test_an_outside_booking_is_nobodys_even_with_a_reschedule_history(world: World) -> None:
    world.booking("u1", S1_MS, call_id="call_a", status="cancelled")
    world.booking("u2", S2, origin="outside", rescheduled_from="u1")
    world.appointment("u2", S2, call_id="call_a")
    assert world.kinds(world.check(NAME)) == ["stolen-booking"]
