"""Fixtures for scenarios: one session per test process, a clean world per scenario.

Environment (set by `calharness verify` / `ablate`, or by hand):
  CALHARNESS_TARGET         a target file: verify that deployment (harness/target.py) instead of
                            the embedded stack
  HARNESS_DB_URL            the embedded service's database, used as given
  HARNESS_MYSQL_URL         a MariaDB/MySQL server: each test process gets its own database on it
  CALHARNESS_DEFENSES_OFF   comma-separated defenses to switch off (ablation; needs the
                            target's test control)
  CALHARNESS_ABLATE         run only the scenarios tagged with this defense (ablation)
  CALHARNESS_CLOCK          where every scenario's time line starts when the target shares its
                            clock: `winter` (default), `summer`, an ISO instant, or `real`
Without a database variable the embedded service uses a SQLite file (writers serialised: races
hidden); the run says which database it used.

A scenario declares what it needs with ``@pytest.mark.needs("faults", "clock", …)``
(harness/capabilities.py); one the target lacks is skipped with ``missing capability: …``, and
so is one that uses a capability it did not declare.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from harness.capabilities import CAPABILITIES, MissingCapability, skip_reason, unknown
from harness.session import BudgetExceeded, Session
from harness.stack import EmbeddedStack, StackOptions
from harness.target import load_target
from harness.world import World, defenses_off_from_env, world_for

MARKERS = (
    "rca(incident): the incident review(s) in seeds/ this scenario covers",
    "defense(name): the booking-service defense(s) this scenario relies on",
    "area(name): report grouping (rca, races, resilience, security, webhooks, consistency, explore)",
    "needs(*capabilities): what the scenario needs of the target (harness/capabilities.py)",
    "mariadb: needs a MariaDB/MySQL database (same as needs('mariadb'))",
    "slow: takes more than a few seconds",
)


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too so the scenarios run the same when installed (`--pyargs scenarios`).
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def needs_of(item: pytest.Item) -> set[str]:
    """The capabilities a scenario declares (its `needs` marks, and `mariadb`)."""
    names = {name for mark in item.iter_markers("needs") for name in mark.args}
    if item.get_closest_marker("mariadb"):
        names.add("mariadb")
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        bad = unknown(needs_of(item))
        if bad:
            raise pytest.UsageError(f"{item.nodeid}: unknown capability {', '.join(bad)}; "
                                    f"known: {', '.join(CAPABILITIES)}")
    ablate = os.environ.get("CALHARNESS_ABLATE")
    if not ablate:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        tagged = {arg for mark in item.iter_markers("defense") for arg in mark.args}
        (keep if ablate in tagged else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def session(worker_id: str) -> Iterator[Session]:
    """The run's session: the target file's deployment, or an embedded stack of our own."""
    defenses_off = defenses_off_from_env()
    target_file = os.environ.get("CALHARNESS_TARGET")
    if target_file:
        with Session(load_target(target_file), defenses_off=defenses_off) as opened:
            try:
                yield opened
            finally:
                problems = opened.clean_up()
                if problems:
                    raise RuntimeError("could not cancel what the run booked: "
                                       + "; ".join(problems))
        return
    options = StackOptions(defenses_off=defenses_off, label=f"scenarios-{worker_id}")
    with EmbeddedStack(options) as stack, Session(stack.target,
                                                  defenses_off=defenses_off) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _declared_needs(request: pytest.FixtureRequest) -> None:
    """Skip a scenario whose declared capabilities the target lacks, naming them (and record
    them for the report)."""
    needs = needs_of(request.node)
    if not needs:
        return
    session: Session = request.getfixturevalue("session")
    missing = needs - session.capabilities
    if missing:
        request.node.user_properties.extend(("missing", name) for name in sorted(missing))
        pytest.skip(skip_reason(missing))


#: Where each scenario's shared clock starts (07:00 Berlin on a Monday), so no verdict depends on
#: the day the suite runs: what a scenario books is the same days, in the same season, always.
CLOCK_STARTS = {
    "winter": datetime(2026, 1, 12, 6, 0, tzinfo=UTC),   # CET, UTC+1
    "summer": datetime(2026, 7, 13, 5, 0, tzinfo=UTC),   # CEST, UTC+2
}


def clock_start() -> datetime | None:
    """The instant `CALHARNESS_CLOCK` names (``None``: real time)."""
    name = os.environ.get("CALHARNESS_CLOCK", "winter").strip() or "winter"
    if name == "real":
        return None
    if name in CLOCK_STARTS:
        return CLOCK_STARTS[name]
    at = datetime.fromisoformat(name.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise pytest.UsageError(f"CALHARNESS_CLOCK={name!r}: give the instant with its offset")
    return at


def pin_clock(world: World) -> None:
    """Start the scenario's shared clock (Cal.com's and the service's) at `clock_start` and let
    it run from there: dates are pinned, waits still take time. Without the clock capability
    (a black-box target) the scenario runs on the target's real time."""
    at = clock_start()
    if at is None or not world.has("clock"):
        return
    world.clock.freeze(at)
    world.clock.unfreeze()


@pytest.fixture
def world(session: Session, request: pytest.FixtureRequest) -> Iterator[World]:
    session.used.clear()
    with world_for(session, judge=False) as scenario_world:  # judged in pytest_runtest_call
        pin_clock(scenario_world)
        session.used.discard("clock")  # the pin is the suite's, not a capability the scenario used
        yield scenario_world
    record = os.environ.get("CALHARNESS_RECORD_NEEDS")
    if record:  # a development aid: which capabilities each scenario actually used
        with open(record, "a", encoding="utf-8") as out:
            out.write(json.dumps({"nodeid": request.node.nodeid,
                                  "used": sorted(session.used)}) + "\n")


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
    so a broken invariant fails the scenario (with the evidence), not its teardown. A scenario
    that reached for a capability the target lacks (and did not declare) is skipped, named."""
    world = getattr(item, "funcargs", {}).get("world")
    try:
        try:
            result = yield
            if isinstance(world, World) and not world.judged:
                world.judge()
            return result
        except MissingCapability as missing:
            item.user_properties.extend(("missing", name) for name in missing.names)
            pytest.skip(f"{missing} (undeclared: add @pytest.mark.needs)")
    finally:
        if isinstance(world, World) and world.last_verdicts:
            # The report reads these from the JUnit XML (per-scenario checker verdicts).
            item.user_properties.append(
                ("checks", json.dumps([v.to_json() for v in world.last_verdicts], default=str)))
