"""Example booking services that calharness verifies through adapters (see each one's README)."""
