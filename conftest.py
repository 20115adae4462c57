"""Root pytest configuration.

The `fake_calcom` fixture comes from the `fake_calcom.pytest_plugin` entry point (pytest11), so
other repositories get it by installing calharness. Scenario fixtures (`stack`, `world`) live in
`scenarios/conftest.py`. The reports plugin copies each test's area/rca/defense markers into the
JUnit XML that `calharness verify` turns into its reports.
"""

pytest_plugins = ["reports.pytest_plugin"]
