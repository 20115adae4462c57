"""Local-vs-Cal.com drift found and repaired by reconciliation (seeds/001 §5.1 reconciliation
tests; the "Hans Schuster shown as Hansi Sputer" drift of seeds/004).

Drift here is made the way it happens in production: things change in Cal.com directly (the
front desk, the booking page) and the webhook telling the service is lost (`webhook_drop` on
every trigger). `reconcile` must report each difference; `reconcile --repair` must fix what it
can; afterwards the drift checker passes with `expect_imported=True` (every active Cal.com booking
has its appointment, and every active appointment its active booking).
"""

from __future__ import annotations

import pytest

from harness.checks import CheckOptions
from harness.faults import fault, reset, webhook_drop, webhook_fault
from harness.world import World
from scenarios.rca._support import HANS, HANSI, appointments

pytestmark = [pytest.mark.area("consistency"),
              pytest.mark.rca("local-calcom-drift")]

REPAIRED = CheckOptions(expect_imported=True, reconciled=True)
NO_WEBHOOKS = webhook_fault("no-webhooks", webhook_drop())


@pytest.mark.needs("book", "tenant_reads", "reconcile", "calcom_journal", "faults",
                   "outside_changes")
def test_reconciliation_reports_and_repairs_every_kind_of_drift(world: World) -> None:
    """Three callers book by phone, then webhooks stop arriving and Cal.com changes: the front
    desk cancels Anna's booking, moves Bernd's to the afternoon, and books a walk-in."""
    world.freeze_if_possible()  # no verdict here turns on time
    s1, s2, s3 = (world.slot(days_ahead=2, hour=h) for h in (9, 10, 11))
    later, walk_in = world.slot(days_ahead=2, hour=15), world.slot(days_ahead=3, hour=9)
    anna = world.driver.collect(s1, name="Anna Alt", telefon="+4915111111111", call_id="call_a")
    bernd = world.driver.collect(s2, name="Bernd Brot", telefon="+4915122222222",
                                 call_id="call_b")
    clara = world.driver.collect(s3, name="Clara Christ", telefon="+4915133333333",
                                 call_id="call_c")
    assert {anna.status, bernd.status, clara.status} == {"booked"}
    world.settle()
    world.arm(NO_WEBHOOKS)

    world.driver.outside_cancel(anna.body["booking_uid"])
    moved = world.driver.outside_reschedule(bernd.body["booking_uid"], later)
    outsider = world.driver.take_slot(2001, walk_in, name="Walter Walk-in",
                                      email="walter@example.com")
    world.settle()

    found = world.driver.reconcile(world.berlin.api_key)
    assert found.http_status == 200, found.body
    assert sorted((o["booking_uid"], o["reason"]) for o in found.body["orphans"]) == sorted([
        (anna.body["booking_uid"], "cancelled_upstream"),
        (bernd.body["booking_uid"], "cancelled_upstream")])
    assert sorted((m["booking_uid"], m["call_id"]) for m in found.body["missing"]) == sorted([
        (moved["uid"], world.driver.call_id("call_b")), (outsider["uid"], None)])
    assert found.body["mismatches"] == []
    assert found.body["repaired"] == 0
    assert sorted(a["status"] for a in appointments(world)) == ["scheduled"] * 3  # untouched

    repaired = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert repaired.body["repaired"] == 4, repaired.body
    now = {a["booking_uid"]: a for a in appointments(world)}
    assert now[anna.body["booking_uid"]]["status"] == "cancelled"
    assert now[bernd.body["booking_uid"]]["status"] == "cancelled"
    assert (now[moved["uid"]]["status"], now[moved["uid"]]["call_id"],
            now[moved["uid"]]["start"]) == ("scheduled", world.driver.call_id("call_b"),
                                            later.start)
    assert (now[outsider["uid"]]["source"], now[outsider["uid"]]["call_id"]) == (
        "reconcile", None)
    assert now[clara.body["booking_uid"]]["status"] == "scheduled"

    again = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert again.body == {"orphans": [], "missing": [], "mismatches": [], "repaired": 0}
    world.judge(REPAIRED)


@pytest.mark.defense("tenant_isolation")
@pytest.mark.needs("tenant_reads", "reconcile", "second_tenant", "calcom_journal", "faults",
                   "outside_changes")
def test_drift_is_found_only_by_a_reconciliation_of_the_right_tenant(world: World) -> None:
    """Hamburg's missed booking is Hamburg's: Berlin's reconciliation neither reports nor imports
    it; Hamburg's does, into Hamburg."""
    world.arm(NO_WEBHOOKS)
    slot = world.slot(days_ahead=2, hour=9)
    outside = world.driver.take_slot(2006, slot, name="Hanne Hamburg", email="hanne@example.com")

    berlin = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert berlin.body == {"orphans": [], "missing": [], "mismatches": [], "repaired": 0}
    hamburg = world.driver.reconcile(world.hamburg.api_key, repair=True)
    berlin_list, hamburg_list = appointments(world, world.berlin), appointments(world, world.hamburg)
    world.judge(REPAIRED)  # with tenant_isolation off: Berlin's read leaks Hamburg's appointment
    assert [m["booking_uid"] for m in hamburg.body["missing"]] == [outside["uid"]]
    assert berlin_list == []
    [imported] = hamburg_list
    assert imported["booking_uid"] == outside["uid"]


@pytest.mark.needs("book", "tenant_reads", "reconcile")
def test_two_callers_sharing_a_phone_keep_their_own_names(world: World) -> None:
    """Hansi Sputer and Hans Schuster call from the same landline, one after the other, for two
    different times. Each appointment must go on showing its own attendee, as Cal.com does."""
    first = world.driver.collect(world.slot(days_ahead=2, hour=9), name=HANSI,
                                 telefon="+493012345678", call_id="call_687")
    second = world.driver.collect(world.slot(days_ahead=2, hour=11), name=HANS,
                                  telefon="+493012345678", call_id="call_688")
    assert (first.status, second.status) == ("booked", "booked")

    world.judge()  # db-matches-calcom: attendee differs (local 'Hans Schuster', Cal.com 'Hansi…')
    found = world.driver.reconcile(world.berlin.api_key)
    assert found.body["mismatches"] == [], found.body
    names = {a["call_id"]: a["customer"]["name"] for a in appointments(world)}
    assert names == {world.driver.call_id("call_687"): HANSI,
                     world.driver.call_id("call_688"): HANS}


@pytest.mark.needs("reconcile", "calcom_journal", "faults", "outside_changes")
def test_a_missed_booking_of_the_second_host_is_found(world: World) -> None:
    world.arm(NO_WEBHOOKS)
    slot = world.slot(days_ahead=2, hour=9)
    outside = world.driver.take_slot(2002, slot, name="Olga Outside", email="olga@example.com")

    found = world.driver.reconcile(world.berlin.api_key)
    assert [m["booking_uid"] for m in found.body["missing"]] == [outside["uid"]], found.body


@pytest.mark.rca("tc-010")
@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults")
def test_an_ambiguous_create_for_the_second_host_is_not_lost(world: World) -> None:
    """The TC-010 network retry, for Haarschnitt (host Ben): Cal.com books, the answer is lost."""
    world.freeze_if_possible()  # only makes the retry's backoff instant
    slot = world.slot(days_ahead=2, hour=9)
    world.arm(fault("reset-after", reset("after"), nth=1))

    answer = world.driver.collect(slot, name="Anna Alt", telefon="+4915111111111",
                                  call_id="call_a", service="Haarschnitt")

    world.judge()  # no-lost-booking: Cal.com holds the caller's booking, caller told slot_taken
    assert answer.status == "booked", answer.body
    assert [b["uid"] for b in world.upstream()] == [answer.body["booking_uid"]]
