"""Fixtures for scenarios: one embedded stack per test process, a clean world per scenario.

Environment (set by `calharness verify` / `ablate`, or by hand):
  HARNESS_DB_URL            the service's database, used as given
  HARNESS_MYSQL_URL         a MariaDB/MySQL server: each test process gets its own database on it
  CALHARNESS_DEFENSES_OFF   comma-separated defenses to switch off (ablation)
  CALHARNESS_ABLATE         run only the scenarios tagged with this defense (ablation)
  CALHARNESS_TARGET         a target file: run the black-box-safe scenarios against that
                            deployment instead of the embedded stack (harness/target.py)
Without a database variable the service uses a SQLite file (writers serialised: races hidden);
the stack says which database it used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from harness.stack import EmbeddedStack, StackOptions
from harness.target import load_target
from harness.target_world import BudgetExceeded, TargetSession, TargetWorld, target_world
from harness.world import World, defenses_off_from_env, world_for

Judged = World | TargetWorld

MARKERS = (
    "rca(incident): the incident review(s) in seeds/ this scenario covers",
    "defense(name): the booking-service defense(s) this scenario relies on",
    "area(name): report grouping (rca, races, resilience, security, webhooks, consistency, explore)",
    "mariadb: needs a MariaDB/MySQL database (HARNESS_MYSQL_URL or a mysql HARNESS_DB_URL)",
    "embedded_only: needs the in-process stack (faults, clock, failpoints)",
    "slow: takes more than a few seconds",
)


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too so the scenarios run the same when installed (`--pyargs scenarios`).
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ablate = os.environ.get("CALHARNESS_ABLATE")
    if not ablate:
        return
    keep, drop = [], []
    for item in items:
        tagged = {arg for mark in item.iter_markers("defense") for arg in mark.args}
        (keep if ablate in tagged else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def stack(worker_id: str) -> Iterator[EmbeddedStack | TargetSession]:
    target_file = os.environ.get("CALHARNESS_TARGET")
    if target_file:
        session = TargetSession(load_target(target_file))
        try:
            yield session
        finally:
            problems = session.clean_up()
            session.close()
            if problems:
                raise RuntimeError("could not cancel what the run booked: " + "; ".join(problems))
        return
    options = StackOptions(defenses_off=defenses_off_from_env(), label=f"scenarios-{worker_id}")
    with EmbeddedStack(options) as running:
        yield running


@pytest.fixture
def world(stack: EmbeddedStack | TargetSession,
          request: pytest.FixtureRequest) -> Iterator[Judged]:
    if isinstance(stack, TargetSession):
        if request.node.get_closest_marker("embedded_only"):
            pytest.skip("needs the embedded stack (faults, clock, failpoints or outside bookings)")
        if request.node.get_closest_marker("mariadb"):
            pytest.skip("needs to know the service's database (embedded stack only)")
        with target_world(stack) as black_box:
            yield black_box
        return
    if request.node.get_closest_marker("mariadb") and stack.database is not None \
            and stack.database.kind != "mariadb":
        pytest.skip(f"needs MariaDB/MySQL; this run uses {stack.database.description}")
    with world_for(stack, judge=False) as scenario_world:  # judged in pytest_runtest_call
        yield scenario_world


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> object:
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(BudgetExceeded):
        item.session.shouldstop = f"target safety rail: {call.excinfo.value}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """Judge every scenario that used a world: the invariant checkers run as part of the test,
    so a broken invariant fails the scenario (with the evidence), not its teardown."""
    world = getattr(item, "funcargs", {}).get("world")
    try:
        result = yield
        if isinstance(world, World | TargetWorld) and not world.judged:
            world.judge()
        return result
    finally:
        if isinstance(world, World | TargetWorld) and world.last_verdicts:
            # The report reads these from the JUnit XML (per-scenario checker verdicts).
            item.user_properties.append(
                ("checks", json.dumps([v.to_json() for v in world.last_verdicts], default=str)))
