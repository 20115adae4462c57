"""Exponential backoff with jitter for retries."""

from __future__ import annotations

import random


class Backoff:
    """`base · 2^attempt`, capped, with "equal jitter": half fixed, half random.

    The fixed half keeps retries from hammering a struggling server; the random half spreads
    clients that failed together. `rng` is seeded by the caller for reproducible waits.
    """

    def __init__(self, base_s: float, cap_s: float, rng: random.Random) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.rng = rng

    def delay(self, attempt: int) -> float:
        """Wait before retry number `attempt + 1` (attempt 0 = after the first failure)."""
        ceiling = min(self.cap_s, self.base_s * (2**attempt))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
