"""run_all, the inputs built from the contract's JSON, and verdict serialisation."""

from __future__ import annotations

import json

import pytest
from checkworld import S1, S1_MS, S2, World

from harness.checks import (
    CHECKERS,
    GroundTruth,
    InputError,
    ServiceView,
    all_ok,
    assert_ok,
    run_all,
)
from harness.checks.inputs import instant

STATE = {  # GET /_fake/state, contract §1.7
    "now": "2025-10-06T09:40:00.000Z",
    "bookings": [{
        "id": 11489895, "uid": "8Fxv4pCqnb1Jva1w9wn5wX", "status": "accepted",
        "start": "2025-10-10T08:00:00.000Z", "end": "2025-10-10T08:30:00.000Z",
        "eventTypeId": 2004, "hostIds": [101],
        "attendees": [{"name": "Hansi Sputer", "email": "termin@praxis-berlin.example",
                       "phoneNumber": None}],
        "metadata": {"call_id": "call_927bf"}, "createdAt": "2025-10-06T09:05:21.002Z",
        "updatedAt": "2025-10-06T09:05:21.002Z", "rescheduledFromUid": None,
        "rescheduledToUid": None, "cancellationReason": None,
        "origin": {"kind": "api", "api_key_owner": 101}}],
    "webhook_deliveries": [{"seq": 1, "subscriberUrl": "http://127.0.0.1:1/api/webhooks/calcom",
                            "triggerEvent": "BOOKING_CREATED",
                            "bookingUid": "8Fxv4pCqnb1Jva1w9wn5wX", "body_sha256": "ab" * 32,
                            "outcome": "sent", "http_status": 200, "copy": 1,
                            "signature_valid": True}],
}

APPOINTMENT = {  # GET /api/appointments/{id}, contract §2.3
    "id": 17, "company_id": 1, "branch_id": "6f1c2b0e-3d4a-4c59-9e8f-0a1b2c3d4e5f",
    "service": "Beratung", "event_type_id": 2004, "call_id": "call_927bf",
    "customer": {"id": 3, "name": "Hansi Sputer"}, "start": "2025-10-10T08:00:00Z",
    "end": "2025-10-10T08:30:00Z", "status": "scheduled", "booking_uid": "8Fxv4pCqnb1Jva1w9wn5wX",
    "host_id": 101, "source": "voice", "created_at": "2025-10-06T09:05:22Z",
    "updated_at": "2025-10-06T09:05:22Z"}


def test_inputs_from_contract_json() -> None:
    truth = GroundTruth.from_json(STATE)
    (b,) = truth.bookings
    assert (b.uid, b.call_id, b.origin, b.api_key_owner, b.host_ids, b.attendee_name) == (
        "8Fxv4pCqnb1Jva1w9wn5wX", "call_927bf", "api", 101, (101,), "Hansi Sputer")
    assert b.active
    assert truth.webhook_deliveries is not None
    assert truth.webhook_deliveries[0].signature_valid
    view = ServiceView.from_json([APPOINTMENT], audit_log=[
        {"appointment_id": 17, "action": "created", "source": "voice", "delivery_key": None,
         "at": "2025-10-06T09:05:22Z", "detail": {}}], processed_webhooks=[])
    (a,) = view.appointments
    assert (a.customer_id, a.customer_name, a.start_s) == (3, "Hansi Sputer", b.start_s)
    assert view.audit_log is not None
    assert view.processed_webhooks == []
    assert ServiceView.from_json([]).audit_log is None


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GroundTruth.from_json({"bookings": {}}), "'bookings' list"),
        (lambda: GroundTruth.from_json({"bookings": [{"status": "accepted"}]}), "without a uid"),
        (lambda: GroundTruth.from_json({"bookings": [], "webhook_deliveries": [{}]}),
         "without body_sha256"),
        (lambda: ServiceView.from_json([{"status": "scheduled"}]), "without an id"),
        (lambda: ServiceView.from_json([], audit_log=[{"appointment_id": 1}]),
         "without an action"),
        (lambda: ServiceView.from_json([], processed_webhooks=[{}]), "without a delivery_key"),
    ],
)
def test_bad_inputs_raise_clear_errors(build, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build()


def test_instants_normalise_iso_spellings() -> None:
    assert instant("2025-10-10T08:00:00Z") == instant("2025-10-10T08:00:00.000Z") == instant(
        "2025-10-10T10:00:00+02:00") == instant("2025-10-10T08:00:00")
    assert instant("not a time") is None
    assert instant(None) is None


def test_run_all_on_a_healthy_run_is_all_ok() -> None:
    world = World()
    world.collect("call_a", S1, uid="u1")
    world.booking("u1", S1_MS, call_id="call_a")
    world.appointment("u1", S1, call_id="call_a")
    world.collect("call_b", S1, status="slot_taken")
    world.op("take_slot", slot=S2, request={"attendee": {"name": "Outside Booker"}},
             answer={"status": "success", "data": {"uid": "out1"}})
    world.booking("out1", S2, origin="outside", attendee="Outside Booker")
    world.delivery("sha-out1", uid="out1")
    world.appointment("out1", S2, source="webhook", customer="Outside Booker")
    world.audit_row(2, "imported", "sha-out1")
    world.processed_webhook("sha-out1")
    world.op("read", request={"endpoint": "appointments", "company_id": 1},
             answer=[{"id": 1, "company_id": 1}, {"id": 2, "company_id": 1}])
    verdicts = run_all(world.history(), world.service(), world.truth())
    assert [v.name for v in verdicts] == list(CHECKERS)
    assert all_ok(verdicts), "\n".join(map(str, verdicts))
    assert not any(v.skipped for v in verdicts)


def test_run_all_without_inputs_skips_and_says_why() -> None:
    verdicts = run_all(None, None, None)
    assert all_ok(verdicts)
    assert all(v.skipped for v in verdicts)
    assert str(verdicts[0]) == "host-slot-exclusive: skipped (no Cal.com ground truth)"


def test_run_all_selects_checkers_and_rejects_unknown_names() -> None:
    assert [v.name for v in run_all(None, None, None, only=["tenant-isolation"])] == [
        "tenant-isolation"]
    with pytest.raises(ValueError, match="unknown checker"):
        run_all(None, None, None, only=["no-such-check"])


def test_a_violating_run_names_incidents_and_serialises_evidence() -> None:
    world = World()
    world.collect("call_688", S1, uid="u687")
    world.booking("u687", S1_MS, call_id="call_687", attendee="Hansi Sputer")
    world.appointment("u687", S1, call_id="call_688", customer="Hans Schuster")
    verdicts = {v.name: v for v in run_all(world.history(), world.service(), world.truth())}
    assert not verdicts["no-stolen-booking"].ok
    assert not verdicts["db-matches-calcom"].ok          # attendee differs too
    assert verdicts["host-slot-exclusive"].ok
    text = json.dumps([v.to_json() for v in verdicts.values()])
    stolen = json.loads(text)[3]
    assert stolen["violations"][0]["kind"] == "stolen-booking"
    assert stolen["violations"][0]["operations"][0]["answer"]["booking_uid"] == "u687"
    assert stolen["violations"][0]["bookings"][0]["call_id"] == "call_687"
    assert "no-stolen-booking: 1 violation(s)" in str(verdicts["no-stolen-booking"])
    with pytest.raises(AssertionError) as failed:
        assert_ok(verdicts.values())
    message = str(failed.value)
    assert message.startswith("invariants violated:\nno-stolen-booking: 1 violation(s)\n"
                              "  [stolen-booking] call call_688 / booking u687: call call_688 was "
                              "told it holds booking u687, which was made for call call_687")
    assert "    op #0 w0:p-call_688 collect call_688 @ 2025-10-10T08:00:00Z → ok booked (u687)" in message
    assert "    Cal.com booking u687 accepted" in message
    assert "    appointment 1 scheduled" in message
    assert "db-matches-calcom: 1 violation(s)" in message
    assert "host-slot-exclusive" not in message
    assert_ok([v for v in verdicts.values() if v.ok])
