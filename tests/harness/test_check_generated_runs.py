"""Checkers on realistic generated runs (the benchmark's generator): a consistent run raises no
false alarm, and planted violations are all found. Several seeds, so the generator's races,
timeouts, retries, cancels, reschedules and webhooks meet the checkers in many combinations."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

from harness.checks import GroundTruth, ServiceView, run_all

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "checker_scaling.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("checker_scaling", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("checker_scaling", module)
    spec.loader.exec_module(module)
    return module


scaling = _load_generator()


def verdicts_of(run):
    return run_all(run.history, ServiceView(run.appointments, run.audit, run.processed),
                   GroundTruth(run.bookings, run.deliveries))


@pytest.mark.parametrize("seed", range(5))
def test_a_consistent_generated_run_passes_every_checker(seed: int) -> None:
    run = scaling.Generator(3_000, seed).generate()
    fs = {op.f for op in run.history.operations}
    assert {"check", "collect", "cancel", "reschedule", "take_slot", "read"} <= fs
    assert {op.type for op in run.history.operations} == {"ok", "fail", "info"}
    verdicts = verdicts_of(run)
    assert all(v.ok and not v.skipped for v in verdicts), "\n".join(map(str, verdicts))


@pytest.mark.parametrize("seed", range(3))
def test_planted_violations_are_found(seed: int) -> None:
    run = scaling.Generator(3_000, seed).generate()
    planted = scaling.inject(run, 3, random.Random(seed))
    found: dict[str, int] = {}
    for verdict in verdicts_of(run):
        for v in verdict.violations:
            found[v.kind] = found.get(v.kind, 0) + 1
    for kind, n in planted.items():
        assert found.get(kind, 0) >= n, (kind, planted, found)
