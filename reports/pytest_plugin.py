"""Pytest plugin: put each test's markers into the JUnit XML, where the report builder reads them.

Load it with ``-p reports.pytest_plugin`` (or ``pytest_plugins = ["reports.pytest_plugin"]`` in
the root conftest). For every collected test it records ``user_properties``:
``("nodeid", …)``, one ``("area", …)`` and one ``("rca", …)``/``("defense", …)``/``("needs", …)``
per marker argument, and Hypothesis's statistics text when Hypothesis ran the test. (The
scenarios' conftest adds ``("missing", …)`` for each capability a skipped scenario lacked.) pytest writes
``user_properties`` as ``<property>`` elements of the ``<testcase>`` (also under pytest-xdist,
which ships them from the workers), so ``reports.junit.read_junit`` needs nothing else.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

MARKERS = ("area", "rca", "defense", "needs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        props = item.user_properties
        props.append(("nodeid", item.nodeid))
        for name in MARKERS:
            for marker in item.iter_markers(name):
                values = [str(arg) for arg in marker.args]
                if name == "area":
                    values = values[:1]  # the innermost area marker wins
                props.extend((name, value) for value in values)
                if name == "area" and values:
                    break


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                      pytest.TestReport]:
    report = yield
    # Hypothesis notes its statistics on the item while the test runs; keep them for the report.
    stats = getattr(item, "hypothesis_statistics", None)
    if call.when == "call" and stats and not any(
            name == "hypothesis_statistics" for name, _ in item.user_properties):
        item.user_properties.append(("hypothesis_statistics", stats))
    return report
