"""Run the scenario suite in a pytest subprocess and follow its progress.

Scenarios run in a child process (optionally spread over pytest-xdist workers) so every run,
including each ablation run, starts from a fresh interpreter; the child writes JUnit XML (with
markers and checker verdicts as properties) and a progress stream this module renders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@dataclass
class PytestRun:
    """What one pytest run produced."""

    exit_code: int
    junit: Path
    log: Path
    duration_s: float
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def collected_nothing(self) -> bool:
        return self.exit_code == 5  # pytest: no tests collected — never a pass


def pytest_command(junit: Path, *, workers: int = 1, keyword: str | None = None,
                   extra: Sequence[str] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "scenarios",
           "-p", "reports.pytest_plugin", "-p", "calharness.pytest_progress",
           "-p", "calharness.pytest_record",
           f"--junitxml={junit}", "-o", "junit_logging=no", "-q", "-p", "no:cacheprovider",
           "-o", "xfail_strict=true"]
    # Always say how many: the project's addopts ask for one process per core, and a shared
    # target must see one test process at a time.
    cmd += ["-n", str(workers) if workers > 1 else "0"]
    if keyword:
        cmd += ["-k", keyword]
    return cmd + list(extra)


def run_pytest(junit: Path, *, env: Mapping[str, str], workers: int = 1,
               keyword: str | None = None, extra: Sequence[str] = (),
               on_event: Callable[[dict[str, Any]], None] | None = None,
               log: Path | None = None) -> PytestRun:
    """Run the scenarios; call `on_event` for each progress event while they run.

    Progress travels over a pipe the child inherits (no polling); pytest's own output goes to
    `log`."""
    junit.parent.mkdir(parents=True, exist_ok=True)
    log = log or junit.with_suffix(".log")
    read_fd, write_fd = os.pipe()
    # The scenario suite as the main job runs it: the state machine's CI profile, not the
    # quick one a plain `pytest` runs.
    child_env = {**os.environ, "CALHARNESS_EXPLORE_PROFILE": "ci", **env,
                 "CALHARNESS_PROGRESS_FD": str(write_fd)}
    child_env.pop("CALHARNESS_PROGRESS_FILE", None)
    outcomes: dict[str, int] = {}
    started = time.perf_counter()

    def follow() -> None:
        with os.fdopen(read_fd, encoding="utf-8") as stream:
            for line in stream:  # ends when the child closes its end
                event = json.loads(line)
                if event.get("event") == "test":
                    outcomes[event["outcome"]] = outcomes.get(event["outcome"], 0) + 1
                if on_event is not None:
                    on_event(event)

    follower = threading.Thread(target=follow, daemon=True, name="pytest-progress")
    follower.start()
    with log.open("w", encoding="utf-8") as log_fh:
        try:
            proc = subprocess.Popen(pytest_command(junit, workers=workers, keyword=keyword,
                                                   extra=extra),
                                    env=child_env, stdout=log_fh, stderr=subprocess.STDOUT,
                                    pass_fds=(write_fd,))
        finally:
            os.close(write_fd)  # the child holds its own copy
        exit_code = proc.wait()
    follower.join(timeout=10)
    return PytestRun(exit_code, junit, log, time.perf_counter() - started, outcomes)


class ProgressDisplay:
    """A rich progress bar fed by `run_pytest` events (silent when not a terminal)."""

    def __init__(self, console: Console, label: str, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                                  TimeElapsedColumn(), console=console, transient=True)
        self._task = self._progress.add_task(label, total=None, status="")
        self._collected = 0
        self._bad = 0

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.stop()

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "collected":
            self._collected = max(self._collected, int(event["count"]))
            self._progress.update(self._task, total=self._collected)
        elif event.get("event") == "test":
            if event["outcome"] in ("failed", "error"):
                self._bad += 1
                if not self.enabled:
                    return
                self._progress.console.print(f"[red]✗[/red] {event['nodeid']}")
            self._progress.advance(self._task)
            self._progress.update(self._task, status=f"[red]{self._bad} failing" if self._bad
                                  else "[green]all passing")


def property_by_test(junit: Path, name: str) -> dict[str, Any]:
    """A JSON property (`record_property(name, json)`) of each test that recorded it, by node id
    (by test name when the node id is not recorded)."""
    if not junit.exists():
        return {}
    found: dict[str, Any] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        if name in props:
            key = props.get("nodeid") or case.get("name") or ""
            found[key] = json.loads(props[name])
    return found


def checks_by_test(junit: Path) -> dict[str, list[dict[str, Any]]]:
    """The checker verdicts each scenario recorded (the `checks` JUnit property), by node id."""
    if not junit.exists():
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
        if "checks" in props and "nodeid" in props:
            found[props["nodeid"]] = json.loads(props["checks"])
    return found
