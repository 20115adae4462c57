"""One Cal.com booking uid never becomes two appointments (seeds/003 Layers 3 and 4, seeds/004).

Contract §2.8 `uid_duplicate_check` and `unique_constraint`.
"""

from __future__ import annotations

import pytest

from harness.faults import fault, stale_replay
from harness.world import World
from scenarios.rca._support import HANS, appointments

pytestmark = [pytest.mark.area("rca"),
              pytest.mark.rca("duplicate-booking-uid")]


@pytest.mark.defense("uid_duplicate_check")
@pytest.mark.needs("book", "appointments", "webhooks", "calcom_journal", "faults",
                   "outside_changes")
def test_a_replayed_booking_that_an_appointment_already_holds_is_a_duplicate(world: World) -> None:
    """An outside booker Hans Schuster takes Haarschnitt (host Ben) at S; its webhook imports it
    (an appointment without a call). The caller Hans Schuster books Beratung (host Anna) at S —
    free locally and at Cal.com — and Cal.com answers with the imported booking (`stale_replay`
    keyed on the start). It is fresh, has no call_id and the same attendee name, so only the uid
    lookup is left: it must say `duplicate`. Without it the insert hits the UNIQUE index, whose
    fallback hands the caller the imported appointment — a booking made for someone else.
    The imported booking is fresh (seconds old) with the clock frozen or not."""
    world.freeze_if_possible()
    slot = world.slot(days_ahead=2, hour=9)
    outside = world.driver.take_slot(2002, slot, name=HANS, email="hans.schuster@example.com")
    world.settle()
    [imported] = appointments(world)
    assert (imported["source"], imported["call_id"]) == ("webhook", None)

    world.arm(fault("stale-replay", stale_replay(key="start")))
    answer = world.driver.collect(slot, name=HANS, call_id="call_688", service="Beratung")

    world.judge()  # with the defense off: no-stolen-booking (call_688 is told it holds it)
    assert answer.status == "duplicate", answer.body
    assert answer.body["reason"] == "booking_uid_exists"
    assert answer.body.get("appointment_id") is None
    assert [a["booking_uid"] for a in appointments(world)] == [outside["uid"]]


@pytest.mark.defense("unique_constraint")
@pytest.mark.rca("webhook-duplicate")
@pytest.mark.needs("appointments", "webhooks", "reconcile", "ground_truth", "calcom_journal",
                   "outside_changes", "failpoints")
def test_a_webhook_and_a_reconciliation_import_one_booking_once(world: World) -> None:
    """A new outside booking is imported twice at the same moment: by its BOOKING_CREATED webhook
    and by a repairing reconciliation. Neither path takes the slot lock and both checked the uid
    before the other inserted (a 2-party barrier at `webhook.before_insert` and
    `reconcile.before_insert` holds each between its check and its insert until the other is
    there too). Only the UNIQUE index on the booking uid can keep it to one appointment."""
    barrier = world.barrier(["webhook.before_insert", "reconcile.before_insert"], parties=2,
                            timeout_s=5.0)
    slot = world.slot(days_ahead=2, hour=9)
    outside = world.driver.take_slot(2001, slot, name="Outside Booker",
                                     email="outside@example.com")
    report = world.driver.reconcile(world.berlin.api_key, repair=True)
    world.settle()

    assert report.http_status == 200, report.body
    assert barrier.tripped  # both really stood between check and insert together
    assert not barrier.timed_out
    world.judge()  # with the defense off: one-appointment-per-booking (two for one uid)
    holders = [a for a in appointments(world) if a["booking_uid"] == outside["uid"]]
    assert len(holders) == 1, holders
    assert [b["uid"] for b in world.upstream()] == [outside["uid"]]
