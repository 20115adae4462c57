"""The state machine in the scenario suite: the CI profile in `calharness verify` and ablation,
a quick one in a plain `pytest` (`CALHARNESS_EXPLORE_PROFILE=ci pytest …` asks for the CI one).

With every defense on it must find nothing. Run with a defense off (as `calharness ablate` does
for the defenses it is tagged with), it must find what that defense prevents: the tags say which
ones the CI profile's budget is enough for (`calharness explore --sweep` shows all of them), so
with any defense off the CI profile runs whatever was asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from harness.session import Session
from harness.world import defenses_off_from_env
from scenarios.explore.machine import CI_SEED, NEEDS, Profile, explore

pytestmark = [pytest.mark.area("explore")]


@pytest.mark.defense("freshness", "call_id_match", "unique_constraint",
                     "availability_double_check", "slot_lock")
@pytest.mark.needs(*NEEDS)
def test_state_machine_finds_no_failure(session: Session,
                                        record_property: Callable[[str, object], None]) -> None:
    # Under ablation only finding matters: shrinking is for people, and costs most of the time.
    ablating = bool(os.environ.get("CALHARNESS_ABLATE"))
    wanted = os.environ.get("CALHARNESS_EXPLORE_PROFILE", "quick")
    profile = Profile.ci() if ablating or defenses_off_from_env() else Profile.named(wanted)
    if ablating:
        profile = Profile(profile.name, profile.examples, profile.steps, shrink=False)
    result = explore(session, profile, seed=CI_SEED, defenses_off=defenses_off_from_env(),
                     minimal=not ablating)
    record_property("explore", json.dumps({
        "profile": profile.name, "seed": CI_SEED, "examples": result.examples,
        "steps": result.steps, "defenses_off": list(result.defenses_off),
        "failure": result.failure.text if result.failure else None}))
    print(result.summary())
    assert result.ok, result.failure.text if result.failure else ""
