"""`calharness explore --profile`: the named budgets, as `--help` documents them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scenarios.explore.machine import CI_BUDGET, DEEP_BUDGET, Profile


def test_help_documents_each_profile_and_its_budget() -> None:
    result = subprocess.run([sys.executable, "-m", "calharness.cli", "explore", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"deep   {DEEP_BUDGET[0]} × {DEEP_BUDGET[1]}" in result.stdout
    assert f"ci     {CI_BUDGET[0]} × {CI_BUDGET[1]} at seed 0" in result.stdout


def test_named_profiles() -> None:
    assert (Profile.named("deep").examples, Profile.named("deep").steps) == DEEP_BUDGET
    assert (Profile.named("ci").examples, Profile.named("ci").steps) == CI_BUDGET
    assert Profile.named("quick").name == "quick"
    with pytest.raises(ValueError, match="one of"):
        Profile.named("nightly")
