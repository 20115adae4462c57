"""Clock, rate limiter, fault-plan parsing and matching, webhook signing: pure units."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import fake_calcom
from fake_calcom.backend.clock import VirtualClock
from fake_calcom.backend.faults import FaultPlan, FaultPlanError, RequestView, path_matches
from fake_calcom.backend.ratelimit import RateLimiter, tracker_for
from fake_calcom.backend.timefmt import parse_iso
from fake_calcom.backend.webhooks import NO_SECRET, sign

# --------------------------------------------------------------------------- clock


def test_clock_freeze_advance_unfreeze_reset() -> None:
    clock = VirtualClock()
    at = datetime(2025, 10, 6, 9, 40, tzinfo=UTC)
    clock.freeze(at)
    assert clock.now() == at
    assert clock.frozen
    clock.advance(90)
    assert clock.now() == at + timedelta(seconds=90)
    clock.unfreeze()
    assert not clock.frozen
    assert abs((clock.now() - (at + timedelta(seconds=90))).total_seconds()) < 5  # continues from there
    clock.reset()
    assert abs(clock.offset_s) < 1e-6
    with pytest.raises(ValueError):
        clock.freeze(datetime(2025, 1, 1))  # naive


async def test_frozen_sleep_advances_instead_of_waiting() -> None:
    clock = VirtualClock()
    clock.freeze(datetime(2025, 1, 1, tzinfo=UTC))
    await clock.sleep(3600)
    assert clock.now() == datetime(2025, 1, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- rate limiter


def test_rate_limit_window_block_and_headers() -> None:
    clock = VirtualClock()
    clock.freeze(datetime(2025, 1, 1, tzinfo=UTC))
    limiter = RateLimiter(clock, limit=3, window_s=60, block_s=60)
    decisions = [limiter.hit("k") for _ in range(3)]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.allowed for d in decisions)
    blocked = limiter.hit("k")
    assert not blocked.allowed
    assert blocked.headers() == {
        "X-RateLimit-Limit-Default": "3",
        "X-RateLimit-Remaining-Default": "0",
        "X-RateLimit-Reset-Default": "60",
    }
    assert limiter.hit("other").allowed  # per tracker
    clock.advance(59)
    assert not limiter.hit("k").allowed  # still blocked, though the window is over soon
    clock.advance(1)
    fresh = limiter.hit("k")
    assert fresh.allowed
    assert fresh.remaining == 2
    assert fresh.reset_s == 60
    assert limiter.rejected == 2


def test_window_expiry_without_block() -> None:
    clock = VirtualClock()
    clock.freeze(datetime(2025, 1, 1, tzinfo=UTC))
    limiter = RateLimiter(clock, limit=2, window_s=60, block_s=60)
    limiter.hit("k")
    clock.advance(30)
    assert limiter.hit("k").reset_s == 30
    clock.advance(30)
    assert limiter.hit("k").remaining == 1  # a new window


def test_trackers_follow_calcom() -> None:
    key = tracker_for("Bearer cal_live_abc", "127.0.0.1")
    assert key == "api_key_" + hashlib.sha256(b"live_abc").hexdigest()
    assert tracker_for("Bearer token123", None) == "access_token_token123"
    assert tracker_for(None, "10.0.0.1") == "ip_10.0.0.1"


# --------------------------------------------------------------------------- fault plans


def fault(**overrides) -> dict:
    base = {"match": {"method": "POST", "path": "/v2/bookings"}, "action": {"kind": "status", "status": 503}}
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "a fault plan is an object"),
        ({"faults": [fault(action={"kind": "explode"})]}, "unknown action kind"),
        ({"faults": [fault(action={"kind": "status"})]}, "status must be an integer"),
        ({"faults": [fault(action={"kind": "status", "status": 503, "phase": "during"})]}, "phase"),
        ({"faults": [fault(trigger={"kind": "probability", "p": 2})]}, "between 0 and 1"),
        ({"faults": [fault(trigger={"kind": "nth"})]}, "n must be an integer"),
        ({"faults": [fault(trigger={"kind": "sometimes"})]}, "unknown trigger kind"),
        ({"faults": [fault(match={"metod": "POST"})]}, "unknown field"),
        ({"faults": [fault(name="x"), fault(name="x")]}, "duplicate fault name"),
        ({"faults": [fault(action={"kind": "webhook_drop"})]}, "webhook actions match with"),
        ({"faults": [fault(match={"webhook": "*"})]}, "needs a webhook_"),
        ({"faults": [fault(action={"kind": "latency", "distribution": "uniform", "min_ms": 5, "max_ms": 1})]}, "max_ms"),
        ({"faults": [fault(action={"kind": "barrier"})]}, "parties"),
        ({"seed": "x", "faults": []}, "seed must be an integer"),
    ],
)
def test_bad_plans_are_refused_with_a_clear_message(raw, message: str) -> None:
    with pytest.raises(FaultPlanError, match=message):
        FaultPlan.parse(raw)


def view(path: str = "/v2/bookings", body=None, version: str | None = "2024-08-13", method: str = "POST") -> RequestView:
    return RequestView(method, path, version, body, {})


def test_match_fields_are_compared_after_normalisation() -> None:
    plan = FaultPlan.parse(
        {"faults": [fault(match={"method": "post", "path": "/v2/bookings", "api_version": "2024-08-13",
                                 "body": {"attendee.email": "a@x.de", "start": "2025-10-10T08:00:00Z", "eventTypeId": "2004"}})]}
    )
    body = {"attendee": {"email": "a@x.de"}, "start": "2025-10-10T08:00:00.000+00:00", "eventTypeId": 2004}
    assert plan.select(view(body=body))
    assert not plan.select(view(body={**body, "start": "2025-10-10T08:30:00Z"}))
    assert not plan.select(view(body=body, version=None))
    assert not plan.select(view(body=None))
    none_plan = FaultPlan.parse({"faults": [fault(match={"api_version": "none"})]})
    assert none_plan.select(view(version=None))
    assert not none_plan.select(view())


def test_path_globs_match_one_segment() -> None:
    assert path_matches("/v2/bookings/*/cancel", "/v2/bookings/abc/cancel")
    assert not path_matches("/v2/bookings/*/cancel", "/v2/bookings/abc/def/cancel")
    assert not path_matches("/v2/bookings/*", "/v2/bookings")
    assert path_matches("/v2/bookings", "/v2/bookings")


def test_triggers_count_matches_and_firings() -> None:
    plan = FaultPlan.parse({"faults": [
        fault(name="third", trigger={"kind": "nth", "n": 3}),
        fault(name="first-two", trigger={"kind": "first", "k": 2}),
    ]})
    fired = [[f.name for f in plan.select(view())] for _ in range(4)]
    assert fired == [["first-two"], ["first-two"], ["third"], []]
    assert [(f.matched) for f in plan.faults] == [4, 4]


def test_probability_is_reproducible_from_the_plan_seed() -> None:
    def firings(seed: int) -> list[bool]:
        plan = FaultPlan.parse({"seed": seed, "faults": [fault(trigger={"kind": "probability", "p": 0.5})]})
        return [bool(plan.select(view())) for _ in range(64)]

    assert firings(1) == firings(1)
    assert firings(1) != firings(2)
    assert 10 < sum(firings(1)) < 54


def test_latency_draws_are_seeded() -> None:
    raw = {"seed": 3, "faults": [fault(action={"kind": "latency", "distribution": "lognormal", "median_ms": 10, "sigma": 0.5})]}
    a, b = FaultPlan.parse(raw).faults[0], FaultPlan.parse(raw).faults[0]
    assert [a.draw_latency_ms() for _ in range(5)] == [b.draw_latency_ms() for _ in range(5)]


def test_webhook_faults_match_trigger_and_payload() -> None:
    plan = FaultPlan.parse({"faults": [{"match": {"webhook": "BOOKING_CREATED", "body": {"uid": "abc"}},
                                        "action": {"kind": "webhook_drop"}}]})
    document = {"triggerEvent": "BOOKING_CREATED", "payload": {"uid": "abc"}}
    assert plan.select_webhook("BOOKING_CREATED", document)
    assert not plan.select_webhook("BOOKING_CANCELLED", document)
    assert not plan.select_webhook("BOOKING_CREATED", {"payload": {"uid": "zzz"}})
    assert not plan.select(view())  # webhook faults never match HTTP requests


# --------------------------------------------------------------------------- signing


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"triggerEvent":"BOOKING_CREATED"}'
    assert sign("whsec", body) == hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
    assert sign(None, body) == NO_SECRET == "no-secret-provided"


@pytest.mark.parametrize("plan", sorted((Path(fake_calcom.__file__).parent / "plans").glob("*.json")), ids=lambda p: p.name)
def test_the_bundled_example_plans_load(plan: Path) -> None:
    assert FaultPlan.parse(json.loads(plan.read_text())).faults


def test_parse_iso_keeps_the_instant() -> None:
    assert parse_iso("2025-10-10T10:00:00+02:00") == parse_iso("2025-10-10T08:00:00Z")


def test_busy_index_finds_every_overlap_and_forgets_removed_bookings() -> None:
    from fake_calcom.backend.busy import BusyIndex
    from fake_calcom.backend.models import Booking

    def booking(uid: str, start: str, minutes: int) -> Booking:
        begin = parse_iso(start)
        return Booking(id=0, uid=uid, event_type_id=1, host_ids=(1,), status="accepted", start=begin,
                       end=begin + timedelta(minutes=minutes), attendees=[], metadata={},
                       created_at=begin, updated_at=begin, title="t")

    index = BusyIndex()
    long_one = booking("long", "2025-10-07T20:00:00Z", 8 * 60)  # crosses midnight
    short = booking("short", "2025-10-07T09:00:00Z", 30)
    overlap = booking("overlap", "2025-10-07T09:15:00Z", 30)  # an overbooked overlap
    for b in (long_one, short, overlap):
        index.add(1, b)

    def hits(start: str, minutes: int, host: int = 1) -> list[str]:
        begin = parse_iso(start)
        return sorted(b.uid for b in index.overlapping(host, begin, begin + timedelta(minutes=minutes)))

    assert hits("2025-10-07T09:00:00Z", 30) == ["overlap", "short"]
    assert hits("2025-10-07T09:30:00Z", 30) == ["overlap"]
    assert hits("2025-10-07T09:45:00Z", 30) == []
    assert hits("2025-10-08T03:00:00Z", 30) == ["long"]  # found on the next UTC day too
    assert hits("2025-10-07T23:00:00Z", 30) == ["long"]
    assert hits("2025-10-07T09:00:00Z", 30, host=2) == []
    index.remove(1, short)
    assert hits("2025-10-07T09:00:00Z", 30) == ["overlap"]
