"""Root pytest configuration.

The `fake_calcom` fixture comes from the `fake_calcom.pytest_plugin` entry point (pytest11), so
other repositories get it by installing calharness. Stack fixtures for scenarios live in
`scenarios/conftest.py`.
"""
