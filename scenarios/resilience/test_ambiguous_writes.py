"""A write whose outcome the service cannot see: Cal.com did it, the answer never arrived.

A create that hangs past the client's timeout, a connection reset, a 5xx sent *after* the
booking was committed, a 201 whose body is cut short, not JSON or empty — in each the booking
exists upstream while the service only knows that something went wrong (an ambiguous outcome,
seeds/000 TC-010: "a network retry with the same key creates no duplicate"). Retrying blindly
books the slot again, or for a plain event type is refused because the caller's own first booking
now holds the slot: the caller is told "taken" while a booking for them exists (a lost booking).
The `ambiguous_create_lookup` defense looks before it retries and adopts the booking whose
`metadata.idempotency_key` is the attempt's own.

Event type 2001 (plain, individual) so Cal.com's dedupe path cannot hand the booking back by
itself; one caller, so neither the double-check nor the lock is involved.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.checks import CheckOptions
from harness.faults import (
    CANCEL,
    CREATE,
    LIST_BOOKINGS,
    RESCHEDULE,
    empty,
    fault,
    hang,
    malformed,
    reset,
    rewrite,
    status,
    truncate,
)
from harness.session import Session
from harness.world import World, world_for

pytestmark = [pytest.mark.area("resilience")]

#: Faults that let the create commit and then keep the answer from the service.
AFTER_COMMIT: dict[str, dict[str, Any]] = {
    "hang-after": hang("after"),
    "reset-after": reset("after"),
    "500-after": status(500, "after"),
    "502-after": status(502, "after"),
    "503-after": status(503, "after"),
    "truncated-201": truncate(),
    "malformed-201": malformed(),
    "empty-201": empty(),
    "201-without-uid": rewrite(**{"data.uid": None}),
}

#: Faults that keep the create from ever reaching the backend (nothing committed).
BEFORE_COMMIT: dict[str, dict[str, Any]] = {
    "hang-before": hang("before"),
    "reset-before": reset("before"),
    "500-before": status(500),
    "503-before": status(503),
}


def book_through(world: World, action: dict[str, Any], call_id: str) -> Any:
    slot = world.slot(days_ahead=2, hour=13)
    world.arm(fault("ambiguous-create", action, first=1))
    world.freeze_if_possible()  # the retry's backoff moves virtual time, where it can
    with world.calcom_timeout():
        answer = world.driver.collect(slot, name="Max Mustermann", call_id=call_id,
                                      telefon="+4915112345678")
    return slot, answer


@pytest.mark.defense("ambiguous_create_lookup")
@pytest.mark.rca("tc-010")
@pytest.mark.parametrize("kind", list(AFTER_COMMIT))
@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults")
def test_create_committed_but_unanswered_is_adopted_not_repeated(world: World, kind: str) -> None:
    """The §2.8 proof (`hang` after commit, with a short client timeout) and its siblings. The
    caller must be told booked, with the booking that already exists — no second booking, and no
    refusal because the caller's own booking holds the slot."""
    slot, answer = book_through(world, AFTER_COMMIT[kind], f"call_amb_{kind.replace('-', '_')}")

    world.judge()  # the invariants first: with a defense off, the report shows the violation
    assert answer.status == "booked", answer.body
    bookings = world.upstream(active=False)
    assert len(bookings) == 1, bookings
    assert answer.body["booking_uid"] == bookings[0]["uid"]
    assert bookings[0]["start"].startswith(slot.start[:-1])


@pytest.mark.rca("tc-010")
@pytest.mark.parametrize("kind", list(BEFORE_COMMIT))
@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults")
def test_create_that_never_arrived_is_sent_again(world: World, kind: str) -> None:
    """The same failures before Cal.com handled the create: the lookup finds nothing, and the
    service must then retry (a caller refused here would lose a slot that is free)."""
    _slot, answer = book_through(world, BEFORE_COMMIT[kind], f"call_lost_{kind.replace('-', '_')}")

    assert answer.status == "booked", answer.body
    assert len(world.upstream(active=False)) == 1
    # The failed attempt (the fault fired once) and the retry that created the booking. (A hung
    # request shows in the fake's request counts only once its handler has noticed the client
    # leaving, so the fault's own counter is what says it happened.)
    assert world.fired("ambiguous-create") == 1
    assert world.requests_seen(*CREATE).get(201) == 1


@pytest.mark.defense("ambiguous_create_lookup")
@pytest.mark.rca("tc-010", "local-calcom-drift")
@pytest.mark.needs("book", "tenant_reads", "reconcile", "ground_truth", "calcom_journal",
                   "faults", "clock")
def test_unresolvable_create_is_reported_unknown_and_reconciled(world: World) -> None:
    """The create commits but its answer is lost, and Cal.com's booking list is down too, so the
    service cannot tell. It must say so (`timeout`/`upstream_unavailable`: the outcome is unknown)
    rather than "slot taken" or "booked", and must not create again. Reconciliation later finds
    the booking, links it to the call, and the caller's booking is no longer unaccounted for."""
    slot = world.slot(days_ahead=2, hour=10, minute=30)
    world.arm(fault("lost-answer", status(503, "after"), first=1),
              fault("list-down", status(503), on=LIST_BOOKINGS))
    world.freeze()
    answer = world.driver.collect(slot, name="Max Mustermann", call_id="call_unknown_outcome",
                                  telefon="+4915112345678")

    world.judge()  # the invariants first: with a defense off, the report shows the violation
    assert answer.status == "upstream_unavailable", answer.body   # unknown, not "taken"/"booked"
    assert answer.body["reason"] == "outcome_unknown", answer.body
    assert len(world.upstream(active=False)) == 1

    # Cal.com recovers; the failures opened the service's circuit, so wait out its open time.
    world.fake.clear_faults()
    world.clock.advance(31)
    report = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert report.http_status == 200, report.body
    assert report.body["repaired"] == 1, report.body
    appointments = world.driver.read("appointments", world.berlin.api_key, world.berlin.id,
                                     call_id=world.driver.call_id("call_unknown_outcome"))
    assert [a["booking_uid"] for a in appointments.body["appointments"]] == \
        [world.upstream(active=False)[0]["uid"]]
    world.judge(CheckOptions(reconciled=True))




@pytest.mark.defense("ambiguous_create_lookup")
@pytest.mark.rca("tc-010")
@pytest.mark.needs("book", "ground_truth", "failpoints")
def test_a_call_whose_first_attempt_died_unrecorded_is_booked_when_it_calls_again(
        world: World) -> None:
    """The service dies between Cal.com's yes and its own insert (a crash at
    `collect.before_insert`); the voice agent calls again, same call and slot. Cal.com now shows
    the slot taken — by this call's own booking — so the caller must hear "booked" with that
    booking, not "taken" (they would be booked without knowing it), and nothing is created twice.
    Found by killing the service during 40 concurrent flows (tests/reliability)."""
    slot = world.slot(days_ahead=2, hour=13)
    crashed = world.crash_at("collect.before_insert")
    first = world.driver.collect(slot, name="Max Mustermann", call_id="call_died_unrecorded",
                                 telefon="+4915112345678")
    assert crashed
    assert first.status != "booked", first.body
    [booking] = world.upstream(start=slot)

    again = world.driver.collect(slot, name="Max Mustermann", call_id="call_died_unrecorded",
                                 telefon="+4915112345678")

    world.judge()
    assert again.status == "booked", again.body
    assert again.body["booking_uid"] == booking["uid"], again.body
    assert [b["uid"] for b in world.upstream(active=False)] == [booking["uid"]]


@pytest.mark.rca("tc-005")
@pytest.mark.parametrize("kind", ["503-after", "reset-after"])
@pytest.mark.needs("book", "cancel", "ground_truth", "calcom_journal", "faults")
def test_cancel_committed_but_unanswered_is_not_repeated(world: World, kind: str) -> None:
    """Cancelling is a write too: Cal.com cancels, the answer is lost. The service looks the
    booking up before retrying and, finding it cancelled, finishes the cancellation locally:
    the caller hears "cancelled", and local and upstream agree (the drift check)."""
    slot = world.slot(days_ahead=2, hour=15)
    booked = world.driver.collect(slot, name="Max Mustermann", call_id="call_cancel_amb",
                                  telefon="+4915112345678")
    assert booked.status == "booked", booked.body
    world.arm(fault("lost-cancel", AFTER_COMMIT[kind], on=CANCEL, first=1))
    world.freeze_if_possible()  # only makes the retry's backoff instant
    answer = world.driver.cancel(call_id="call_cancel_amb",
                                 appointment_id=booked.body["appointment_id"])

    assert answer.status == "cancelled", answer.body
    assert [b["status"] for b in world.upstream(active=False)] == ["cancelled"]
    assert sum(world.requests_seen("POST", "/v2/bookings/{uid}/cancel").values()) == 1


@pytest.mark.defense("ambiguous_create_lookup")
@pytest.mark.rca("tc-010")
@pytest.mark.parametrize("kind", ["503-after", "reset-after"])
@pytest.mark.needs("book", "reschedule", "ground_truth", "calcom_journal", "faults")
def test_reschedule_committed_but_unanswered_is_adopted(world: World, kind: str) -> None:
    """A reschedule creates the new booking and cancels the old one in one step upstream; when
    its answer is lost the service follows the old booking's `rescheduledToUid` to the new one
    instead of rescheduling again."""
    old, new = world.slot(days_ahead=2, hour=11), world.slot(days_ahead=2, hour=16)
    booked = world.driver.collect(old, name="Max Mustermann", call_id="call_resched_amb",
                                  telefon="+4915112345678")
    assert booked.status == "booked", booked.body
    world.arm(fault("lost-reschedule", AFTER_COMMIT[kind], on=RESCHEDULE, first=1))
    world.freeze_if_possible()  # only makes the retry's backoff instant
    answer = world.driver.reschedule(call_id="call_resched_amb", new_slot=new,
                                     appointment_id=booked.body["appointment_id"])

    assert answer.status == "rescheduled", answer.body
    active = world.upstream()
    assert [b["uid"] for b in active] == [answer.body["booking_uid"]], active


@pytest.mark.rca("tc-010", "local-calcom-drift")
@pytest.mark.needs("defenses", "reset", "faults", "clock", "reconcile", "voice_api")
def test_judge_flags_a_refused_caller_whose_booking_reconciliation_imported(
        session: Session) -> None:
    """The checkers must bite here: without the lookup, the blind retry is refused because the
    caller's own booking holds the slot, the caller is told `slot_taken`, and reconciliation then
    imports that booking for their call. Runs with `ambiguous_create_lookup` off on purpose and
    expects the judge to call it a lost booking."""
    with world_for(session, defenses_off=["ambiguous_create_lookup"], judge=False) as world:
        slot = world.slot(days_ahead=2, hour=13)
        world.arm(fault("lost-answer", status(503, "after"), first=1))
        world.freeze()
        answer = world.driver.collect(slot, name="Max Mustermann", call_id="call_told_no",
                                      telefon="+4915112345678")
        assert answer.status == "slot_taken", answer.body  # the service's part of the failure
        world.clock.advance(31)  # past the circuit's open time
        assert world.driver.reconcile(world.berlin.api_key, repair=True).body["repaired"] == 1

        verdicts = world.verdicts(CheckOptions(reconciled=True))
        lost = next(v for v in verdicts if v.name == "no-lost-booking")
        assert not lost.ok, "a caller told slot_taken holds an appointment, and no checker saw it"
