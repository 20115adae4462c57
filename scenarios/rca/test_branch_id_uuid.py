"""Branch ids are UUID strings, not integers (seeds/001: RCA 2025-10-06 booking error analysis,
§1.1 type safety: the alternative finder raised a TypeError on a UUID branch id).

Everything that touches a branch works with the demo tenants' UUID branch ids: the tenant is
found by the called number, alternatives are found for a taken slot, and every appointment —
booked by voice, imported by a webhook, or repaired by reconciliation — carries its branch's UUID
as a string, in both tenants.
"""

from __future__ import annotations

import uuid

import pytest

from harness.faults import webhook_drop, webhook_fault
from harness.world import Company, World
from scenarios.rca._support import appointments, company_id

pytestmark = [pytest.mark.area("rca"),
              pytest.mark.rca("branch-id-uuid")]


def branch_uuid(company: Company) -> str:
    """The UUID of the company's (only) branch, as the service names its tenants (contract
    §2.6; the target file's `branch_ids` when it has no test control)."""
    assert company.branch_ids, "the target names no branch ids for this tenant"
    branch_id = company.branch_ids[0]
    assert str(uuid.UUID(branch_id)) == branch_id  # a canonical UUID string, not a number
    return branch_id


@pytest.mark.parametrize(("tenant", "event_type_id"), [("berlin", 2001), ("hamburg", 2006)])
@pytest.mark.needs("book", "check", "tenant_reads", "second_tenant", "outside_changes")
def test_alternatives_and_appointments_work_with_uuid_branch_ids(
        world: World, tenant: str, event_type_id: int) -> None:
    company: Company = getattr(world, tenant)
    world.freeze_if_possible()  # no verdict here turns on time
    taken = world.slot(days_ahead=1, hour=11)
    world.driver.take_slot(event_type_id, taken, name="Outside Booker",
                           email="outside@example.com")
    world.settle()

    # The alternative finder runs in the branch's context (the path that raised the TypeError).
    check = world.driver.check(taken, call_id="call_uuid_1", to_number=company.phone)
    assert check.status == "unavailable", check.body
    assert check.body["alternatives"], check.body
    refused = world.driver.collect(taken, name="Uwe Uuid", telefon="+4915133333333",
                                   call_id="call_uuid_1", to_number=company.phone)
    assert refused.status == "slot_taken", refused.body
    assert refused.body["alternatives"], refused.body

    other = world.slot(days_ahead=1, hour=12)
    booked = world.driver.collect(other, name="Uwe Uuid", telefon="+4915133333333",
                                  call_id="call_uuid_1", to_number=company.phone)
    assert booked.status == "booked", booked.body

    listed = appointments(world, company)
    assert sorted(a["source"] for a in listed) == ["voice", "webhook"]
    assert {a["branch_id"] for a in listed} == {branch_uuid(company)}
    assert {a["company_id"] for a in listed} == {company_id(company, listed)}


@pytest.mark.needs("tenant_reads", "reconcile", "calcom_journal", "faults", "outside_changes")
def test_a_reconciled_appointment_carries_the_branch_uuid(world: World) -> None:
    """A booking whose webhook never arrived is imported by reconciliation into its branch."""
    world.arm(webhook_fault("drop-created", webhook_drop(), event="BOOKING_CREATED"))
    slot = world.slot(days_ahead=1, hour=11)
    world.driver.take_slot(2001, slot, name="Outside Booker", email="outside@example.com")
    world.settle()
    assert appointments(world) == []

    report = world.driver.reconcile(world.berlin.api_key, repair=True)
    assert report.body["repaired"] == 1, report.body
    [imported] = appointments(world)
    assert (imported["source"], imported["branch_id"]) == ("reconcile", branch_uuid(world.berlin))
