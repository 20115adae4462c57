"""Pytest scenario suites run by `calharness verify`."""
