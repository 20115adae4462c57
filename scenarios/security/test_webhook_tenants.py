"""A webhook delivery touches only bookings of its own tenant (issue 14; contract §2.8
`tenant_isolation`, webhooks).

Webhook secrets may be shared by all tenants, so a correctly signed delivery proves only that
Cal.com (or whoever holds the secret) sent it, not which tenant it is about. The delivery's
event type says that: a `BOOKING_RESCHEDULED` for Praxis Berlin's event type whose
`rescheduleUid` names Praxis Hamburg's booking must leave Hamburg's appointment alone, and must
not plant in Berlin an appointment tied to Hamburg's customer or call.

Judged from outside: Cal.com's ground truth, and each tenant's read API.
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.rca._support import appointments
from scenarios.security._support import later, sign, webhook_body

pytestmark = [pytest.mark.area("security")]


@pytest.mark.defense("tenant_isolation")
@pytest.mark.needs("book", "tenant_reads", "webhooks", "webhook_secret", "second_tenant",
                   "ground_truth")
def test_a_reschedule_naming_another_tenants_booking_touches_nothing(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    if not world.hamburg.phone:
        pytest.skip("the second tenant has no phone number to call")
    hamburg = world.driver.collect(slot, name="Hanna Hafen", call_id="call_tenant_victim",
                                   telefon="+4940111222", to_number=world.hamburg.phone)
    assert hamburg.status == "booked", hamburg.body
    world.settle()
    truth = next(b for b in world.fake.state()["bookings"]
                 if b["uid"] == hamburg.body["booking_uid"])
    before = appointments(world, world.hamburg)

    moved = world.slot(days_ahead=4, hour=15)
    berlin_event_type = 2001  # Praxis Berlin's Beratung (the demo tenants)
    forged = {**truth, "uid": "crossTenantRescheduleUid1", "eventTypeId": berlin_event_type,
              "start": moved.start, "end": moved.plus(30).start,
              "attendees": [{"name": "Mallory", "email": "mallory@example.org"}],
              "metadata": {"call_id": world.driver.call_id("call_tenant_victim")}}
    body = webhook_body("BOOKING_RESCHEDULED", forged, later(world),
                        rescheduleUid=truth["uid"])
    answer = world.driver.webhook(body, sign(body, world.webhook_secret), signature_valid=True)
    assert answer.http_status is not None
    assert answer.http_status < 500, answer.body

    after = appointments(world, world.hamburg)
    berlin = appointments(world, world.berlin)
    ground = {b["uid"]: b for b in world.fake.state()["bookings"]}
    assert ground[truth["uid"]]["status"] == "accepted"  # Cal.com: still Hamburg's, in place
    assert [(a["id"], a["status"], a["start"]) for a in after] == \
        [(a["id"], a["status"], a["start"]) for a in before], "Hamburg's appointment was touched"
    call_id = world.driver.call_id("call_tenant_victim")
    tied = [a for a in berlin
            if a["call_id"] == call_id or (a["customer"] or {}).get("name") == "Hanna Hafen"
            or a["booking_uid"] in (truth["uid"], forged["uid"])]
    assert tied == [], f"Berlin shows Hamburg's booking, customer or call: {tied}"
