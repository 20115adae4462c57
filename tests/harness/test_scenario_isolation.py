"""The reset between scenarios is complete: a sample of scenarios has the same outcome run alone
(each in a fresh process) as run one after another in one process, in either order — also
with defenses off, where state that survived a reset would let one scenario see another's
failure. Real processes, the embedded stack, the suite's own pinned clock."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: One scenario per area, each leaving state behind (bookings, deliveries, a reconciliation).
SAMPLE = [
    "scenarios/resilience/test_ambiguous_writes.py::test_unresolvable_create_is_reported_unknown_and_reconciled",
    "scenarios/webhooks/test_webhook_duplicates.py::test_a_booking_created_delivered_three_times_is_imported_once",
    "scenarios/rca/test_call_687_688.py::test_call_688_is_not_given_call_687s_booking",
    "scenarios/smoke/test_booking_basics.py::test_same_call_asking_again_gets_the_same_appointment",
    "scenarios/consistency/test_reconcile_drift.py::test_reconciliation_reports_and_repairs_every_kind_of_drift",
    "scenarios/consistency/test_local_time.py::test_a_booking_made_in_words_is_held_at_that_local_time[winter]",
]
#: Defenses off, so some of the sample fails: a failure must not depend on what ran before.
DEFENSES_OFF = "call_id_match,webhook_dedupe,ambiguous_create_lookup"


def outcomes(nodeids: list[str], tmp_path: Path, name: str) -> dict[str, str]:
    """Run `nodeids` in one pytest process; each scenario's outcome by ``file::test``."""
    report = tmp_path / f"{name}.xml"
    env = {**os.environ, "CALHARNESS_DEFENSES_OFF": DEFENSES_OFF}
    env.pop("CALHARNESS_ABLATE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:randomly", "-q",
         f"--junitxml={report}", *nodeids],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert report.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    found: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = tag
        found[f"{path}::{case.get('name')}"] = outcome
    return found


@pytest.mark.slow
def test_a_sample_of_scenarios_has_the_same_outcome_alone_and_in_sequence(tmp_path: Path) -> None:
    alone: dict[str, str] = {}
    for i, nodeid in enumerate(SAMPLE):
        alone.update(outcomes([nodeid], tmp_path, f"alone-{i}"))
    forward = outcomes(SAMPLE, tmp_path, "forward")
    backward = outcomes(list(reversed(SAMPLE)), tmp_path, "backward")
    assert set(alone) == set(SAMPLE), alone
    assert forward == alone
    assert backward == alone
    # The comparison means something only if the defenses off make some of the sample fail.
    assert "failure" in alone.values(), alone
    assert "passed" in alone.values(), alone
