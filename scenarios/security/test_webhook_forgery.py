"""Webhook forgery and replay (seeds/001 §1.3 "validates webhook signature"; contract §2.8
`webhook_signature`).

Anyone who knows the receiver's URL can post to it. A delivery is Cal.com's only if
`X-Cal-Signature-256` is the HMAC-SHA256 of its raw body under the shared secret; anything else
must be refused (401) and change nothing — not cancel a caller's appointment, not move it, not
plant one. A genuine delivery captured and sent again must take effect once.

The harness posts these deliveries itself (`world.driver.webhook`), recording whether each was
validly signed, so the webhook checker can tell a forgery that took effect from a genuine change.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.world import World
from scenarios.rca._support import appointments
from scenarios.security._support import later, sign, webhook_body

pytestmark = [pytest.mark.area("security")]


def booked_appointment(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """A caller's booking: (the service's answer, Cal.com's booking), webhooks settled."""
    slot = world.slot(days_ahead=2, hour=10)
    answer = world.driver.collect(slot, name="Max Mustermann", call_id="call_forgery_victim",
                                  telefon="+4915112345678")
    assert answer.status == "booked", answer.body
    world.settle()
    booking = next(b for b in world.fake.state()["bookings"]
                   if b["uid"] == answer.body["booking_uid"])
    return answer.body, booking


def forged_body(world: World, event: str, booking: dict[str, Any]) -> bytes:
    if event == "cancel":
        return webhook_body("BOOKING_CANCELLED", booking, later(world), status="CANCELLED",
                            cancellationReason="forged")
    if event == "reschedule":
        moved = world.slot(days_ahead=5, hour=16)
        new = {**booking, "uid": "forgedRescheduleUid00001", "start": moved.start,
               "end": moved.plus(30).start}
        return webhook_body("BOOKING_RESCHEDULED", new, later(world),
                            rescheduleUid=booking["uid"])
    planted = world.slot(days_ahead=6, hour=11)
    return webhook_body("BOOKING_CREATED", {
        "uid": "forgedPlantedBookingUid1", "id": 99999, "eventTypeId": 2001,
        "start": planted.start, "end": planted.plus(30).start, "hostIds": [101],
        "attendees": [{"name": "Mallory", "email": "mallory@example.org"}],
        "metadata": {}, "status": "accepted"}, later(world))


def signature_for(kind: str, body: bytes, genuine_other: bytes, secret: str) -> str | None:
    return {
        "no-signature": None,
        "wrong-secret": sign(body, "whsec_guessed"),
        "signature-of-another-body": sign(genuine_other, secret),
        "garbage": "invalid_signature_123",  # seeds/001 §1.3
        "empty": "",
    }[kind]


@pytest.mark.defense("webhook_signature")
@pytest.mark.parametrize(("event", "forgery"), [
    ("cancel", "no-signature"),
    ("cancel", "wrong-secret"),
    ("cancel", "signature-of-another-body"),
    ("cancel", "garbage"),
    ("cancel", "empty"),
    ("reschedule", "wrong-secret"),
    ("create", "wrong-secret"),
])
@pytest.mark.needs("book", "tenant_reads", "webhooks", "webhook_secret", "calcom_journal")
def test_forged_delivery_is_refused_and_changes_nothing(world: World, event: str,
                                                        forgery: str) -> None:
    """The §2.8 proof: a forged BOOKING_CANCELLED must not cancel the caller's appointment;
    likewise a forged reschedule must not move it and a forged create must not plant one."""
    service_answer, booking = booked_appointment(world)
    body = forged_body(world, event, booking)
    # A delivery Cal.com did sign: the same booking, unchanged (its signature, another body).
    genuine = webhook_body("BOOKING_CREATED", booking, later(world))

    answer = world.driver.webhook(body, signature_for(forgery, body, genuine, world.webhook_secret),
                                  signature_valid=False)
    listed = appointments(world)  # the scenario's own (a shared target holds others' too)

    world.judge()  # the invariants first: with a defense off, the report shows the violation
    assert answer.http_status == 401, answer.body
    assert [(a["id"], a["status"], a["start"]) for a in listed] == \
        [(service_answer["appointment_id"], "scheduled", service_answer["start"])]


@pytest.mark.defense("webhook_dedupe")
@pytest.mark.rca("webhook-duplicate")
@pytest.mark.needs("cancel", "tenant_reads", "webhooks", "webhook_secret", "calcom_journal",
                   "outside_changes")
def test_replayed_genuine_delivery_takes_effect_once(world: World) -> None:
    """A genuine BOOKING_CREATED for an outside booking (nothing imported it yet), captured and
    replayed — one after another and several at once. It imports the booking once; every replay
    is answered as a duplicate and leaves the appointment (and its audit trail) alone, also after
    the booking was cancelled meanwhile."""
    slot = world.slot(days_ahead=3, hour=12)
    booking = world.driver.take_slot(2001, slot, name="Olga Outside",
                                     email="olga@example.org", webhooks=False)
    truth = next(b for b in world.fake.state()["bookings"] if b["uid"] == booking["uid"])
    body = webhook_body("BOOKING_CREATED", truth, world.clock.now())
    signature = sign(body, world.webhook_secret)

    first = world.driver.webhook(body, signature, signature_valid=True)
    again = [world.driver.webhook(body, signature, signature_valid=True) for _ in range(2)]
    at_once = world.driver.concurrently([
        (lambda i=i: world.driver.awebhook(body, signature, signature_valid=True,
                                           process=f"replayer-{i}")) for i in range(3)])
    listed = appointments(world)
    # Olga calls to cancel; Cal.com cancels and says so. The captured CREATED, replayed now,
    # must not bring the booking back.
    cancelled = world.driver.cancel(call_id="call_olga_cancels", slot=slot,
                                    args={"name": "Olga Outside"})
    world.settle()
    late = world.driver.webhook(body, signature, signature_valid=True)
    shown = appointments(world)

    world.judge()  # the invariants first: with a defense off, the report shows the violation
    assert first.http_status == 200, first.body
    assert first.body["outcome"] == "imported", first.body
    for answer in again + at_once:
        assert answer.http_status == 200, answer.body
        assert answer.body["outcome"] == "duplicate", answer.body
    assert [(a["booking_uid"], a["status"]) for a in listed] == \
        [(booking["uid"], "scheduled")]
    assert cancelled.status == "cancelled", cancelled.body
    assert late.http_status == 200, late.body
    assert [a["status"] for a in shown] == ["cancelled"]
