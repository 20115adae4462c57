"""The webhook receiver's edges, as Cal.com (or a forger) can reach them: what each delivery is
answered with, and that nothing but a genuine, readable, handled delivery changes anything
(contract §2.3: 200 processed or ignored, 401 bad signature, 400 unreadable)."""

from __future__ import annotations

import json

import pytest

from harness.world import World
from scenarios.rca._support import appointments
from scenarios.security._support import sign

pytestmark = [pytest.mark.area("webhooks"),
              pytest.mark.needs("webhooks", "voice_api", "appointments")]


def document(trigger: str, **extra: object) -> bytes:
    return json.dumps({"triggerEvent": trigger, "createdAt": "2026-01-12T06:00:00.000Z",
                       **extra}).encode()


@pytest.mark.defense("webhook_signature")
def test_each_edge_gets_its_exact_answer_and_changes_nothing(world: World) -> None:
    secret = world.webhook_secret
    meeting_ended = document("MEETING_ENDED", payload={"uid": "x"})
    cases = [
        ("unsigned", meeting_ended, None, 401),
        ("signed with another secret", meeting_ended, sign(meeting_ended, secret + "x"), 401),
        ("signature of another body", meeting_ended, sign(meeting_ended + b" ", secret), 401),
        ("not JSON", b"{not json", sign(b"{not json", secret), 400),
        ("no trigger event", b'{"payload": {}}', sign(b'{"payload": {}}', secret), 400),
        ("handled event without payload", document("BOOKING_CREATED"),
         sign(document("BOOKING_CREATED"), secret), 400),
        ("an event the service does not handle", meeting_ended, sign(meeting_ended, secret), 200),
    ]
    wrong = []
    for what, body, signature, expected in cases:
        answer = world.driver.webhook(body, signature, signature_valid=expected != 401)
        if answer.http_status != expected:
            wrong.append((what, expected, answer.http_status, answer.body))
    assert not wrong, wrong
    assert answer.body == {"status": "ok", "outcome": "ignored_event"}, answer.body
    # The unhandled event delivered again is a duplicate of the recorded one (never applied).
    again = world.driver.webhook(meeting_ended, sign(meeting_ended, secret), signature_valid=True)
    assert again.http_status == 200, again.body
    assert again.body == {"status": "ok", "outcome": "duplicate"}, again.body
    assert appointments(world) == []
