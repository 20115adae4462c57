"""Pytest plugin: stream test results to a JSON-lines file for `calharness verify`'s progress bar.

Active only when ``CALHARNESS_PROGRESS_FD`` names an inherited pipe (or ``CALHARNESS_PROGRESS_FILE``
a file). It runs in the controlling process (with
pytest-xdist, worker reports arrive there too), writing one line per collected batch and per
finished test, so the parent command can show progress without parsing pytest's terminal output.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

import pytest

_sink: IO[str] | None = None


def _write(event: dict[str, Any]) -> None:
    if _sink is not None:
        _sink.write(json.dumps(event) + "\n")
        _sink.flush()


def pytest_configure(config: pytest.Config) -> None:
    global _sink
    if hasattr(config, "workerinput"):  # xdist workers: their reports reach the controller
        return
    fd = os.environ.get("CALHARNESS_PROGRESS_FD")
    path = os.environ.get("CALHARNESS_PROGRESS_FILE")
    if fd:
        _sink = os.fdopen(int(fd), "w", encoding="utf-8")
    elif path:
        _sink = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in unconfigure


def pytest_unconfigure(config: pytest.Config) -> None:
    global _sink
    if _sink is not None:
        _sink.close()
        _sink = None


def pytest_collection_finish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        _write({"event": "collected", "count": len(session.items)})


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    _write({"event": "collected", "count": len(ids)})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    done = report.when == "call" or (report.when == "setup" and not report.passed)
    if done:
        outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
        _write({"event": "test", "nodeid": report.nodeid, "outcome": outcome,
                "duration": round(report.duration, 3)})
    elif report.when == "teardown" and report.failed:
        _write({"event": "test", "nodeid": report.nodeid, "outcome": "error",
                "duration": round(report.duration, 3)})
