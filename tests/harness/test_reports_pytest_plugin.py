"""The pytest plugin carries markers and Hypothesis statistics into JUnit XML, also under xdist.

Runs a real pytest (in a subprocess, two xdist workers) over a small suite and reads its JUnit
file back with the report builder.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from reports.junit import read_junit

SUITE = '''
import pytest
from hypothesis import given, settings, strategies as st

pytestmark = pytest.mark.area("rca")


@pytest.mark.rca("duplicate-stale-booking", "tc-007")
@pytest.mark.defense("freshness")
def test_replay():
    pass


@pytest.mark.area("races")
@pytest.mark.rca("availability-race-14s")
@pytest.mark.defense("slot_lock")
@pytest.mark.parametrize("n", [2, 10])
def test_race(n):
    assert n == 2, f"{n} callers: 2 booked"


@settings(max_examples=15, database=None)
@given(st.integers())
def test_property(x):
    assert x == x
'''


def test_markers_and_hypothesis_statistics_reach_junit(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "reports.pytest_plugin", "-p", "no:cacheprovider",
         "-n", "2", "-q", "-W", "ignore::pytest.PytestUnknownMarkWarning",
         f"--junitxml={junit}", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr   # test_race[10] fails on purpose
    rows = {r.nodeid: r for r in read_junit(junit)}
    assert set(rows) == {"test_suite.py::test_replay", "test_suite.py::test_race[2]",
                         "test_suite.py::test_race[10]", "test_suite.py::test_property"}
    replay = rows["test_suite.py::test_replay"]
    assert (replay.outcome, replay.area, replay.incidents, replay.defenses) == (
        "passed", "rca", ["duplicate-stale-booking", "tc-007"], ["freshness"])
    race = rows["test_suite.py::test_race[10]"]
    assert (race.outcome, race.area, race.incidents, race.defenses) == (
        "failed", "races", ["availability-race-14s"], ["slot_lock"])   # innermost area wins
    assert race.failure is not None
    assert "10 callers: 2 booked" in race.failure
    prop = rows["test_suite.py::test_property"]
    assert prop.hypothesis is not None
    assert prop.hypothesis.passing == 15
    assert prop.hypothesis.failing == 0
    assert "test_suite.py::test_property" in prop.hypothesis.text
