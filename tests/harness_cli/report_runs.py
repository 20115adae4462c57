"""One real `calharness verify` run shared by the report tests of every test process.

The report's CLI tests and its browser test read the same small run; under pytest-xdist each
worker would otherwise start its own. The first worker to ask runs it (under a file lock in the
session's shared temporary folder); the others wait for the lock and read what it wrote.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
LOAD_SUMMARY = DATA / "load-run" / "load-summary.json"
CAPACITY = DATA / "capacity.json"
#: A stale replay (the incident), a circuit breaker that clears its faults before the end, a
#: webhook duplicate and the smoke scenarios: HTTP faults, a cleared plan, webhook chaos.
SELECTION = "smoke or test_call_688 or circuit_opens or webhook_duplicate"
PREVIOUS = {
    "schema": "calharness.report/1", "ok": False, "started_at": "2026-12-01T10:00:00+00:00",
    "scenarios": [{"nodeid": "scenarios/rca/test_call_687_688.py::"
                             "test_call_688_is_not_given_call_687s_booking", "outcome": "failed"},
                  {"nodeid": "scenarios/smoke/test_booking_basics.py::test_gone",
                   "outcome": "passed"}]}


def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the run's --out folder, its console output), run once per test session."""
    shared = tmp_path_factory.getbasetemp().parent  # the same for every xdist worker
    out = shared / "report-small-run"
    done = shared / "report-small-run.json"
    with (shared / "report-small-run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            previous = shared / "report-previous-summary.json"
            previous.write_text(json.dumps(PREVIOUS), encoding="utf-8")
            result = subprocess.run(
                [sys.executable, "-m", "calharness", "verify", "-k", SELECTION, "--out",
                 str(out), "--no-progress", "--load-summary", str(LOAD_SUMMARY),
                 "--capacity-curve", str(CAPACITY), "--previous", str(previous)],
                capture_output=True, text=True, timeout=300, check=False)
            done.write_text(json.dumps({"code": result.returncode, "stdout": result.stdout,
                                        "stderr": result.stderr}), encoding="utf-8")
    recorded = json.loads(done.read_text(encoding="utf-8"))
    assert recorded["code"] == 0, recorded["stdout"] + recorded["stderr"]
    return out, recorded["stdout"]
