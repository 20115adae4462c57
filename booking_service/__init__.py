"""The reference booking service: the system under test (see docs/contracts.md §2)."""
