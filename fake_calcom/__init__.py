"""A stateful, fault-injecting fake of the Cal.com API v2 (see docs/contracts.md §1)."""
