"""webhook-applied-once and tenant-isolation."""

from __future__ import annotations

from checkworld import S1, World

WEBHOOKS = "webhook-applied-once"
TENANTS = "tenant-isolation"


def test_each_delivery_applied_once_passes(world: World) -> None:
    a = world.appointment("u2", S1, source="webhook")
    world.delivery("sha-created", uid="u2")
    world.delivery("sha-resched", trigger="BOOKING_RESCHEDULED", uid="u2")
    world.delivery("sha-resched", trigger="BOOKING_RESCHEDULED", uid="u2", copy=2)  # duplicate
    world.audit_row(a.id, "imported", "sha-created")
    world.audit_row(a.id, "rescheduled", "sha-resched")
    world.audit_row(a.id + 1, "created", "sha-resched")
    world.audit_row(a.id, "webhook_duplicate_ignored", "sha-resched")   # not an effect
    world.audit_row(a.id, "created", None, source="voice")
    world.processed_webhook("sha-created")
    world.processed_webhook("sha-resched")
    verdict = world.check(WEBHOOKS)
    assert verdict.ok, verdict
    assert verdict.checked == 2


def test_a_duplicate_delivery_applied_twice_fails(world: World) -> None:
    # webhook_dedupe off: BOOKING_RESCHEDULED sent twice, both copies took effect.
    old = world.appointment("u1", S1, status="rescheduled", id=1)
    world.delivery("sha-resched", trigger="BOOKING_RESCHEDULED", uid="u1")
    world.delivery("sha-resched", trigger="BOOKING_RESCHEDULED", uid="u1", copy=2)
    world.audit_row(old.id, "rescheduled", "sha-resched")
    world.audit_row(2, "created", "sha-resched")
    world.audit_row(old.id, "rescheduled", "sha-resched")
    world.audit_row(3, "created", "sha-resched")
    verdict = world.check(WEBHOOKS)
    (v,) = verdict.violations
    assert v.kind == "webhook-applied-twice"
    assert "rescheduled ×2" in v.message
    assert "created ×2" in v.message
    assert "2 copies sent" in v.message
    assert len(v.details["audit"]) == 4
    assert [a.id for a in v.appointments] == [1]


def test_a_duplicate_that_changed_nothing_the_second_time_fails(world: World) -> None:
    # webhook_dedupe off: BOOKING_CANCELLED sent twice; the second pass found the appointment
    # already cancelled and audited a no-op. Still processed twice on one appointment.
    a = world.appointment("u1", S1, status="cancelled", id=1)
    world.delivery("sha-cancel", trigger="BOOKING_CANCELLED", uid="u1")
    world.delivery("sha-cancel", trigger="BOOKING_CANCELLED", uid="u1", copy=2)
    world.audit_row(a.id, "cancelled", "sha-cancel")
    world.audit_row(a.id, "cancelled_noop", "sha-cancel")
    (v,) = world.check(WEBHOOKS).violations
    assert v.kind == "webhook-applied-twice"
    assert "processed 2 times on appointment 1" in v.message


def test_one_delivery_touching_two_appointments_once_each_passes(world: World) -> None:
    # A reschedule: the old appointment moves, the new one is created, each once; a no-op on a
    # third appointment the delivery only looked at is not a second application either.
    world.delivery("sha-resched", trigger="BOOKING_RESCHEDULED", uid="u1")
    world.audit_row(1, "rescheduled", "sha-resched")
    world.audit_row(2, "created", "sha-resched")
    world.audit_row(3, "scheduled_noop", "sha-resched")
    assert world.check(WEBHOOKS).ok


def test_a_key_processed_twice_fails(world: World) -> None:
    world.processed_webhook("sha-1")
    world.processed_webhook("sha-1")
    world.audit = []
    assert world.kinds(world.check(WEBHOOKS)) == ["webhook-applied-twice"]


def test_a_forged_delivery_that_took_effect_fails(world: World) -> None:
    # webhook_signature off: a delivery Cal.com never signed cancelled an appointment.
    a = world.appointment("u1", S1, status="cancelled")
    world.delivery("sha-real", uid="u1")
    world.delivery("sha-bad", uid="u1", trigger="BOOKING_CANCELLED", signature_valid=False)
    world.audit_row(a.id, "cancelled", "sha-bad")
    world.op("webhook", request={"body_sha256": "sha-forged", "signature_valid": False},
             answer={"http_status": 200})
    world.audit_row(a.id, "cancelled", "sha-forged")
    verdict = world.check(WEBHOOKS)
    assert world.kinds(verdict) == ["webhook-forgery-applied"] * 2
    assert [op.f for op in verdict.violations[1].operations] == ["webhook"]


def test_a_webhook_the_harness_signed_itself_is_genuine(world: World) -> None:
    world.deliveries = []
    world.op("webhook", request={"body_sha256": "sha-h", "signature_valid": True},
             answer={"http_status": 200})
    world.audit_row(1, "imported", "sha-h")
    assert world.check(WEBHOOKS).ok


def test_webhook_check_is_skipped_without_the_audit_log(world: World) -> None:
    assert world.check(WEBHOOKS).skipped == "no audit log from the service's database"


def appointments_of_two_companies(world: World) -> None:
    world.appointment("u1", S1, company=1, id=17, customer_id=3)
    world.appointment("u2", S1, company=2, id=18, customer_id=4, host=103)


def test_reads_scoped_to_the_readers_company_pass(world: World) -> None:
    appointments_of_two_companies(world)
    world.op("read", request={"endpoint": "appointments", "company_id": 1},
             answer=[{"id": 17, "company_id": 1}])
    world.op("read", request={"endpoint": "appointment", "company_id": 2, "id": 17},
             outcome="fail", answer={"error": "not found"})
    world.op("read", request={"endpoint": "customers", "company_id": 2},
             answer={"customers": [{"id": 4, "name": "Kim"}]})
    verdict = world.check(TENANTS)
    assert verdict.ok, verdict
    assert verdict.checked == 2


def test_another_companys_appointment_in_a_list_fails(world: World) -> None:
    appointments_of_two_companies(world)
    world.op("read", request={"endpoint": "appointments", "company_id": 2},
             answer=[{"id": 18, "company_id": 2}, {"id": 17, "company_id": 1}])
    (v,) = world.check(TENANTS).violations
    assert v.kind == "tenant-leak"
    assert v.details["leaked"] == [{"id": 17, "company_id": 1}]


def test_a_record_without_company_id_is_attributed_through_the_service(world: World) -> None:
    appointments_of_two_companies(world)
    world.op("read", request={"endpoint": "appointment", "company_id": 2, "id": 17},
             answer={"id": 17, "status": "scheduled"})
    world.op("read", request={"endpoint": "customers", "company_id": 2},
             answer=[{"id": 3, "name": "Hans Schuster"}])
    verdict = world.check(TENANTS)
    assert world.kinds(verdict) == ["tenant-leak", "tenant-leak"]
    assert "customers" in verdict.violations[1].message
