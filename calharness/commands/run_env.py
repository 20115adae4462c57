"""The environment a scenario run's test processes get: which database, how many processes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.db import docker_available, kind_of, mysql_container, redact


@dataclass
class RunDatabase:
    """How the test processes find their database, described for the report."""

    env: dict[str, str]
    description: str
    single_process: bool = False  # one shared database: test processes must not run in parallel
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        while self._cleanup:
            self._cleanup.pop()()


def choose_run_database(explicit_url: str | None, *, target: Path | None = None) -> RunDatabase:
    """Same order as `harness.db.choose_database`, decided once for all test processes."""
    if target is not None:
        return RunDatabase({}, "the target's own (external deployment)", single_process=True)
    url = explicit_url or os.environ.get("HARNESS_DB_URL")
    if url:
        # Scenarios wipe the service's tables between them: one shared database means one
        # test process.
        return RunDatabase({"HARNESS_DB_URL": url}, f"{kind_of(url)} at {redact(url)} (given; "
                           "scenarios run in one process)", single_process=True)
    server = os.environ.get("HARNESS_MYSQL_URL")
    if server:
        return RunDatabase({"HARNESS_MYSQL_URL": server},
                           f"MariaDB/MySQL at {redact(server)} (a fresh database per test process)")
    if docker_available():
        choice = mysql_container()
        if choice is not None:
            server_url = choice.url.rsplit("/", 1)[0] + "/"
            return RunDatabase({"HARNESS_MYSQL_URL": server_url},
                               f"{choice.description} via testcontainers (a database per test "
                               "process)", _cleanup=[choice.close])
    return RunDatabase({"HARNESS_DB_URL": "", "HARNESS_MYSQL_URL": ""},
                       "SQLite (a temporary file per test process; writers are serialised, so "
                       "races that need real concurrency are only proven on MariaDB)")


def default_workers() -> int:
    """Two test processes where there are two cores or more: the suite is I/O-bound per process
    and pytest-xdist start-up costs about a second."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1
