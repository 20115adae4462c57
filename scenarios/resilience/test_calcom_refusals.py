"""What each of Cal.com's refusals of a create becomes for the caller: the exact status and reason
the voice agent acts on, a message to read out, times to offer where the slot is the problem,
and no booking left behind (contract §2.3; API-FACTS: the error envelope and its messages)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.faults import fault
from harness.world import World

pytestmark = [pytest.mark.area("resilience"),
              pytest.mark.needs("voice_api", "book", "faults", "ground_truth")]


def envelope(code: str, message: str) -> dict[str, Any]:
    """Cal.com's v2 error body."""
    return {"status": "error", "timestamp": "2026-01-12T06:00:00.000Z", "path": "/v2/bookings",
            "error": {"code": code, "message": message}}


REFUSALS = {
    # name: (status, body or None for the fake's own) → (status, reason, offers other times)
    "conflict-409": (409, None, ("race_condition_detected", "booking_conflict_error", True)),
    "host-busy": (400, envelope("BadRequestException", "User either already has booking at "
                                "this time or is not available"), ("slot_taken", "host_busy", True)),
    "in-the-past": (400, envelope("BadRequestException", "Attempting to book a meeting in the "
                                  "past."), ("past_date", "in_the_past", False)),
    "out-of-bounds": (400, envelope("BadRequestException", "booking_time_out_of_bounds"),
                      ("slot_taken", "outside_booking_window", True)),
    "no-event-type": (404, None, ("unknown_service", "event_type_not_found", False)),
    "rejected-400": (400, None, ("error", "calcom_rejected", False)),
    "throttled-429": (429, None, ("rate_limited", "calcom_rate_limit", False)),
    # Nest's validation body: a list of messages.
    "invalid-400-list": (400, {"statusCode": 400, "error": "Bad Request",
                               "message": ["start must be a valid ISO 8601 date string"]},
                         ("error", "calcom_rejected", False)),
    # Every attempt answered 503: it may have committed, and the lookup cannot be sure either.
    "down-503": (503, None, ("upstream_unavailable", "outcome_unknown", False)),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_create_gets_its_exact_answer(world: World, name: str) -> None:
    code, body, expected = REFUSALS[name]
    action: dict[str, Any] = {"kind": "status", "status": code}
    if body is not None:
        action["body"] = body
    world.arm(fault(name, action))
    world.freeze()
    slot = world.slot(days_ahead=2, hour=10)
    answer = world.driver.collect(slot, name="Rita Refus", call_id=f"call_refused_{name}")
    status, reason, offers = expected
    got = (answer.body.get("status"), answer.body.get("reason"), answer.body.get("success"))
    assert got == (status, reason, False), answer.body
    assert answer.body["message"], answer.body
    if offers:
        assert answer.body["alternatives"], answer.body
    assert world.upstream(active=False) == []
