"""Pytest plugin publishing the `fake_calcom` fixture (filled in by the fake Cal.com work)."""
