"""Cal.com v2's throttler: a fixed window per tracker (API key), then a block (API-FACTS §3.3).

Like @nestjs/throttler with `blockDuration`: the first request opens a window of `window_s`;
the request that exceeds `limit` blocks the tracker for `block_s`; while blocked every request
is refused with Remaining 0 and Reset = seconds until the block ends. Time is the virtual clock.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from fake_calcom.backend.clock import VirtualClock


@dataclass(slots=True)
class _Bucket:
    hits: int
    window_ends: float
    blocked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window (or block) ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit-Default": str(self.limit),
            "X-RateLimit-Remaining-Default": str(self.remaining),
            "X-RateLimit-Reset-Default": str(self.reset_s),
        }


def tracker_for(authorization: str | None, client_ip: str | None) -> str:
    """Cal.com's tracker key: `api_key_<sha256>` for `cal_` keys, access token, else the IP."""
    if authorization and authorization.startswith("Bearer "):
        token = authorization[7:].strip()
        if token.startswith("cal_"):
            return "api_key_" + hashlib.sha256(token[4:].encode()).hexdigest()
        if token:
            return "access_token_" + token
    return "ip_" + (client_ip or "unknown")


class RateLimiter:
    def __init__(
        self,
        clock: VirtualClock,
        *,
        enabled: bool = True,
        limit: int = 120,
        window_s: float = 60.0,
        block_s: float = 60.0,
    ) -> None:
        self.clock = clock
        self.configure(enabled=enabled, limit=limit, window_s=window_s, block_s=block_s)
        self._buckets: dict[str, _Bucket] = {}
        self.rejected = 0

    def configure(self, *, enabled: bool, limit: int, window_s: float, block_s: float) -> None:
        if limit < 1 or window_s <= 0 or block_s < 0:
            raise ValueError("limit must be >= 1, window_s > 0 and block_s >= 0")
        self.enabled = enabled
        self.limit = int(limit)
        self.window_s = float(window_s)
        self.block_s = float(block_s)

    def settings(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "limit": self.limit,
            "window_s": self.window_s,
            "block_s": self.block_s,
        }

    def reset(self) -> None:
        self._buckets.clear()
        self.rejected = 0

    def hit(self, tracker: str) -> Decision:
        """Count one request for `tracker` and say whether it may pass."""
        now = self.clock.timestamp()
        bucket = self._buckets.get(tracker)
        if bucket is not None and bucket.blocked_until:
            if now < bucket.blocked_until:
                self.rejected += 1
                return Decision(False, self.limit, 0, math.ceil(bucket.blocked_until - now))
            bucket = None  # the block is over: a fresh window
        if bucket is None or now >= bucket.window_ends:
            bucket = _Bucket(hits=0, window_ends=now + self.window_s)
            self._buckets[tracker] = bucket
        bucket.hits += 1
        if bucket.hits > self.limit:
            self.rejected += 1
            if self.block_s > 0:
                bucket.blocked_until = now + self.block_s
                return Decision(False, self.limit, 0, math.ceil(self.block_s))
            return Decision(False, self.limit, 0, math.ceil(bucket.window_ends - now))
        return Decision(
            True, self.limit, self.limit - bucket.hits, max(0, math.ceil(bucket.window_ends - now))
        )

    def peek(self, tracker: str) -> Decision:
        """The headers for `tracker` without counting a request (used by the 429 fault)."""
        return Decision(False, self.limit, 0, math.ceil(self.block_s or self.window_s))
