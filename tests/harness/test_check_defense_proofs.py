"""Contract §2.8 as histories: for every defense, the end state of its proof scenario with the
defense on (every checker passes) and off (the named violation is found by run_all).

These are hand-written stand-ins for what the real scenarios will record; they pin down which
checker catches which ablated defense.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from checkworld import S1, S1_MS, World

from harness.checks import CheckOptions, run_all

OUTSIDE_AGE_35MIN = "2025-10-06T09:05:21.002Z"


def stale_outside_booking(world: World, *, name: str = "Hans Schuster",
                          call_id: str | None = None) -> None:
    # An outside booking (no webhook, nothing imported) at S that Cal.com's dedupe returns.
    world.booking("old", S1_MS, origin="outside" if call_id is None else "api", call_id=call_id,
                  attendee=name, hosts=(101,), created_at=OUTSIDE_AGE_35MIN)


def stale_replay(on: bool, name: str = "Hans Schuster", call_id: str | None = None):
    def build(world: World) -> None:
        stale_outside_booking(world, name=name, call_id=call_id)
        if on:   # the defense refuses the stale answer
            world.collect("call_688", S1, status="stale_booking_data", uid="old")
        else:    # …or hands the caller someone else's booking
            world.collect("call_688", S1, uid="old")
            world.appointment("old", S1, call_id="call_688", customer="Hans Schuster")
    return build


def uid_duplicate(on: bool):
    def build(world: World) -> None:
        world.booking("imp", S1_MS, origin="outside")
        world.appointment("imp", S1, source="webhook", id=1)
        if on:
            world.collect("call_b", S1, status="duplicate", uid="imp")
        else:    # the UNIQUE path answers with the imported appointment
            world.collect("call_b", S1, uid="imp")
    return build


def unique_constraint(on: bool):
    def build(world: World) -> None:
        world.booking("new", S1_MS, origin="outside")
        world.appointment("new", S1, source="webhook")
        if not on:
            world.appointment("new", S1, source="reconcile", status="cancelled")
    return build


def second_caller_overbooks(on: bool):
    def build(world: World) -> None:
        world.collect("call_a", S1, uid="ua")
        world.booking("ua", S1_MS, call_id="call_a")
        world.appointment("ua", S1, call_id="call_a")
        if on:
            world.collect("call_b", S1, status="slot_taken")
        else:    # Cal.com accepted the overlapping create (overbook)
            world.collect("call_b", S1, uid="ub")
            world.booking("ub", S1_MS, call_id="call_b")
            world.appointment("ub", S1, call_id="call_b")
    return build


def ambiguous_create(on: bool):
    def build(world: World) -> None:
        world.booking("u1", S1_MS, call_id="call_a")   # the create that hung after committing
        if on:   # looked up by idempotency key and adopted
            world.collect("call_a", S1, uid="u1")
            world.appointment("u1", S1, call_id="call_a")
        else:    # the blind retry hit the caller's own booking
            world.collect("call_a", S1, status="slot_taken")
    return build


def forged_cancel(on: bool):
    def build(world: World) -> None:
        world.booking("u1", S1_MS, call_id="call_a")
        world.collect("call_a", S1, uid="u1")
        world.delivery("sha-created", uid="u1")
        world.audit_row(1, "webhook_recorded", "sha-created")
        world.op("webhook", request={"body_sha256": "sha-forged", "signature_valid": False},
                 outcome="fail" if on else "ok", answer={"http_status": 401 if on else 200})
        if on:
            world.appointment("u1", S1, call_id="call_a", id=1)
        else:
            world.appointment("u1", S1, call_id="call_a", id=1, status="cancelled")
            world.audit_row(1, "cancelled", "sha-forged")
    return build


def duplicate_reschedule(on: bool):
    def build(world: World) -> None:
        world.booking("u1", S1_MS, origin="outside", status="cancelled")
        world.booking("u2", "2025-10-10T09:00:00.000Z", origin="outside", rescheduled_from="u1")
        world.appointment("u1", S1, source="webhook", status="rescheduled", id=1)
        world.appointment("u2", "2025-10-10T09:00:00Z", source="webhook", id=2)
        for copy in (1, 2):
            world.delivery("sha-r", trigger="BOOKING_RESCHEDULED", uid="u1", copy=copy)
        world.audit_row(1, "rescheduled", "sha-r")
        world.audit_row(2, "created", "sha-r")
        world.audit_row(1, "webhook_duplicate_ignored" if on else "rescheduled", "sha-r")
    return build


def reordered_webhooks(on: bool):
    def build(world: World) -> None:
        world.booking("u1", S1_MS, origin="outside", status="cancelled")
        world.appointment("u1", S1, source="webhook", status="cancelled" if on else "scheduled")
    return build


def cross_tenant_read(on: bool):
    def build(world: World) -> None:
        world.booking("u1", S1_MS, origin="outside")
        world.appointment("u1", S1, company=1, id=17, source="webhook")
        if on:
            world.op("read", request={"endpoint": "appointment", "company_id": 2, "id": 17},
                     outcome="fail", answer={"error": "not found"})
        else:
            world.op("read", request={"endpoint": "appointment", "company_id": 2, "id": 17},
                     answer={"id": 17, "company_id": 1, "status": "scheduled"})
    return build


PROOFS: dict[str, tuple[Callable[[bool], Callable[[World], None]], set[str]]] = {
    "freshness": (lambda on: stale_replay(on), {"stolen-booking"}),
    "call_id_match": (lambda on: stale_replay(on, call_id="call_687"), {"stolen-booking"}),
    "attendee_match": (lambda on: stale_replay(on, name="Outside Booker"),
                       {"stolen-booking", "drift", "told-mismatch"}),
    "uid_duplicate_check": (uid_duplicate, {"stolen-booking"}),
    "unique_constraint": (unique_constraint, {"duplicate-appointment", "drift"}),
    "availability_double_check": (second_caller_overbooks, {"double-booking"}),
    "slot_lock": (second_caller_overbooks, {"double-booking"}),
    "ambiguous_create_lookup": (ambiguous_create, {"lost-booking"}),
    "webhook_signature": (forged_cancel, {"webhook-forgery-applied", "drift"}),
    "webhook_dedupe": (duplicate_reschedule, {"webhook-applied-twice"}),
    "webhook_ordering": (reordered_webhooks, {"drift"}),
    "tenant_isolation": (cross_tenant_read, {"tenant-leak"}),
}


def kinds_found(build: Callable[[World], None]) -> set[str]:
    world = World()
    if world.audit is None:
        world.audit = []
    if world.deliveries is None:
        world.deliveries = []
    build(world)
    verdicts = run_all(world.history(), world.service(), world.truth(),
                       options=CheckOptions(service_key_owners=frozenset({101})))
    return {v.kind for verdict in verdicts for v in verdict.violations}


@pytest.mark.parametrize("defense", list(PROOFS))
def test_defense_on_leaves_every_invariant_intact(defense: str) -> None:
    proof, _ = PROOFS[defense]
    assert kinds_found(proof(True)) == set()


@pytest.mark.parametrize("defense", list(PROOFS))
def test_defense_off_is_caught_by_the_named_violation(defense: str) -> None:
    proof, expected = PROOFS[defense]
    assert kinds_found(proof(False)) == expected
