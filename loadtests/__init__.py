"""Locust load tests (run in their own processes, never imported by pytest)."""
