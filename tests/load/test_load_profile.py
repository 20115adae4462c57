"""Profiles, distributions and demand: plain data, seeded choices, time compression."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime

import pytest

from harness.slots import BERLIN
from loadtests.demand import Demand, ServiceDemand, choose_alternative, slot_from_answer
from loadtests.distributions import Distribution, DistributionError
from loadtests.profile import PROFILES, SMOKE, LoadProfile, Upstream

MONDAY_NOON = datetime(2025, 10, 20, 12, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(("spec", "median"), [
    ("fixed:14", 14.0), ("14", 14.0), ("uniform:8:20", 14.0), ("lognormal:14:0.3", 14.0),
    ("exponential:10", 10.0 * 0.6931471805599453)])
def test_distribution_specs_parse_round_trip_and_scale(spec: str, median: float) -> None:
    dist = Distribution.parse(spec)
    assert dist.median == pytest.approx(median)
    assert Distribution.parse(dist.spec()) == dist
    assert dist.scaled(0.1).median == pytest.approx(median / 10)
    rng = random.Random(7)
    draws = [dist.draw(rng) for _ in range(200)]
    assert all(d >= 0 for d in draws)
    assert [dist.draw(random.Random(7)) for _ in range(3)] == \
        [dist.draw(random.Random(7)) for _ in range(3)]


def test_lognormal_talk_time_centres_on_the_incident_gap() -> None:
    rng = random.Random(1)
    draws = sorted(Distribution.parse("lognormal:14:0.3").draw(rng) for _ in range(2001))
    assert 13 < draws[1000] < 15  # the median is the incident's 14 s
    assert draws[1900] > 20  # with a tail


@pytest.mark.parametrize("spec", ["", "gauss:1", "fixed", "fixed:-1", "uniform:5:1",
                                  "lognormal:14", "fixed:abc", "uniform:1:inf"])
def test_bad_distribution_specs_are_refused_with_a_hint(spec: str) -> None:
    with pytest.raises(DistributionError) as exc:
        Distribution.parse(spec)
    assert str(exc.value)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profiles_round_trip_through_json(name: str) -> None:
    profile = PROFILES[name]
    assert LoadProfile.loads(profile.dumps()) == profile


def test_time_factor_compresses_every_duration_but_keeps_the_rate_limit_count() -> None:
    profile = LoadProfile(time_factor=10.0)
    assert profile.caller_think.median == pytest.approx(1.4)
    assert profile.flow_target_s == pytest.approx(4.5)
    assert profile.rate_limit() == {"enabled": True, "limit": 120, "window_s": 6.0,
                                    "block_s": 6.0}
    settings = profile.service_settings()
    assert settings["calcom_timeout_s"] == pytest.approx(1.0)
    assert settings["max_rate_limit_wait_s"] == pytest.approx(6.5)
    latency = next(f for f in profile.fault_plan()["faults"] if f["name"] == "calcom-latency")
    assert latency["action"] == {"kind": "latency", "distribution": "lognormal",
                                 "median_ms": 40.0, "sigma": 0.6}


def test_fault_mix_becomes_a_seeded_fault_plan() -> None:
    profile = LoadProfile(seed=9, upstream=Upstream(latency_median_ms=None, fault_mix={
        "429": 0.1, "5xx": 0.05, "timeout": 0.01, "overbook": 1.0}))
    plan = profile.fault_plan()
    assert plan["seed"] == 9
    by_name = {f["name"]: f for f in plan["faults"]}
    assert set(by_name) == {"load-overbook", "storm-429", "burst-5xx", "create-timeout"}
    assert by_name["load-overbook"]["trigger"] == {"kind": "always"}
    assert by_name["storm-429"]["trigger"] == {"kind": "probability", "p": 0.1}
    assert by_name["create-timeout"]["action"]["phase"] == "after"
    with pytest.raises(ValueError, match="unknown fault mix"):
        Upstream(fault_mix={"meteor": 0.1})
    with pytest.raises(ValueError, match="probability"):
        Upstream(fault_mix={"429": 1.5})


def test_smoke_profile_concentrates_callers_on_three_slots_tomorrow() -> None:
    rng = random.Random(0)
    picks = Counter(SMOKE.demand.pick(rng, MONDAY_NOON)[1].uhrzeit for _ in range(300))
    assert set(picks) == {"10:00", "11:00", "14:00"}
    days = {SMOKE.demand.pick(rng, MONDAY_NOON)[1].datum for _ in range(50)}
    assert days == {"21.10.2025"}
    assert SMOKE.upstream.fault_mix["overbook"] > 0  # what makes a missing defense visible


def test_realistic_demand_prefers_popular_hours_and_near_days() -> None:
    demand = Demand(services=(ServiceDemand("Beratung", 1.0, 30),), horizon_days=5)
    rng = random.Random(3)
    picks = [demand.pick(rng, MONDAY_NOON)[1] for _ in range(3000)]
    hours = Counter(s.local.hour for s in picks)
    assert hours[10] > hours[12] * 2  # mid-morning beats lunchtime
    days = Counter(s.datum for s in picks)
    assert days["21.10.2025"] > days["27.10.2025"]  # tomorrow beats next Monday
    assert all(s.local.weekday() < 5 and 9 <= s.local.hour < 17 for s in picks)
    minutes = Counter(s.local.minute for s in picks)
    assert minutes[0] > minutes[30] > 0


def test_sixty_minute_service_starts_step_by_an_hour() -> None:
    demand = Demand(services=(ServiceDemand("Haarschnitt", 1.0, 60),), horizon_days=1)
    rng = random.Random(5)
    assert {demand.pick(rng, MONDAY_NOON)[1].local.minute for _ in range(200)} == {0}


def test_same_seed_same_wishes() -> None:
    def wishes(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [PROFILES["realistic"].demand.pick(rng, MONDAY_NOON)[1].start for _ in range(20)]

    assert wishes(11) == wishes(11)
    assert wishes(11) != wishes(12)


def test_callers_take_an_offered_alternative_they_have_not_tried() -> None:
    offered = [slot_from_answer({"start": f"2025-10-21T{h:02d}:00:00Z"}) for h in (8, 9, 10)]
    assert None not in offered
    rng = random.Random(0)
    tried = {offered[0].start, offered[1].start}
    assert all(choose_alternative(rng, offered, tried) == offered[2] for _ in range(20))
    assert choose_alternative(rng, offered, {s.start for s in offered}) is None
    firsts = Counter(choose_alternative(rng, offered, set()).start for _ in range(1000))
    assert firsts[offered[0].start] > firsts[offered[2].start]
    assert slot_from_answer({"start": "not a time"}) is None
    assert slot_from_answer("10:00") is None
