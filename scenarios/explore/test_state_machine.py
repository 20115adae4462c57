"""The state machine's CI profile: part of every `pytest` and `calharness verify` run.

With every defense on it must find nothing. Run with a defense off (as `calharness ablate` does
for the defenses it is tagged with), it must find what that defense prevents: the tags say which
ones the CI profile's budget is enough for (`calharness explore --sweep` shows all of them).
"""

from __future__ import annotations

import json
import os

import pytest

from harness.session import Session
from harness.world import defenses_off_from_env
from scenarios.explore.machine import NEEDS, Profile, explore

pytestmark = [pytest.mark.area("explore")]

#: The seed of the CI profile: every run generates the same sequences.
CI_SEED = 0


@pytest.mark.defense("freshness", "call_id_match", "unique_constraint",
                     "availability_double_check", "slot_lock")
@pytest.mark.needs(*NEEDS)
def test_state_machine_finds_no_failure(session: Session,
                                        record_property: pytest.RecordProperty) -> None:
    # Under ablation only finding matters: shrinking is for people, and costs most of the time.
    profile = Profile.ci()
    ablating = bool(os.environ.get("CALHARNESS_ABLATE"))
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
