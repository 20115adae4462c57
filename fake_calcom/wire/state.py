"""Everything one running fake holds: backend, fault plan, limiter, journal, stats, workers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from fake_calcom.backend.clock import VirtualClock
from fake_calcom.backend.faults import FaultPlan
from fake_calcom.backend.models import CreateRequest
from fake_calcom.backend.ratelimit import RateLimiter
from fake_calcom.backend.store import Backend, CreateResult
from fake_calcom.wire.journal import Journal, Stats
from fake_calcom.wire.rendezvous import RendezvousPoints

if TYPE_CHECKING:
    from fake_calcom.wire.common import Ctx
    from fake_calcom.wire.delivery import DeliveryWorker
    from fake_calcom.wire.fault_actions import Barriers


@dataclass
class FakeConfig:
    """How to start a fake (contracts §1.1)."""

    seed: int = 0
    seed_data: dict[str, Any] | None = None
    faults: dict[str, Any] | None = None
    rate_limit: bool = True
    rate_limit_per_minute: int = 120
    rate_limit_block_s: int = 60
    journal: bool = True
    journal_capacity: int = 2000
    clock: VirtualClock | None = None
    max_body_bytes: int = 1 << 20
    webhook_timeout_s: float = 5.0


class FakeState:
    def __init__(self, config: FakeConfig) -> None:
        from fake_calcom.wire.fault_actions import Barriers

        self.config = config
        self.clock = config.clock or VirtualClock()
        self.backend = Backend(seed=config.seed, seed_data=config.seed_data, clock=self.clock)
        self._initial_faults = config.faults
        self.faults = FaultPlan.parse(config.faults)
        self.limiter = RateLimiter(
            self.clock,
            enabled=config.rate_limit,
            limit=config.rate_limit_per_minute,
            window_s=60,
            block_s=config.rate_limit_block_s,
        )
        self.journal = Journal(enabled=config.journal, capacity=config.journal_capacity)
        self.stats = Stats()
        self.barriers: Barriers = Barriers(self)
        self.rendezvous = RendezvousPoints()
        self.delivery: DeliveryWorker | None = None
        self.shutdown = asyncio.Event()
        self._date_second = -1
        self._date_text = ""

    def http_date(self) -> str:
        """The `Date` header from the virtual clock (formatted once per second)."""
        second = int(self.clock.timestamp())
        if second != self._date_second:
            self._date_text = formatdate(second, usegmt=True)
            self._date_second = second
        return self._date_text

    def reset(self, scope: str = "all") -> None:
        """Contracts §1.6: `all` also clears faults and the journal and makes the clock real."""
        self.barriers.release_all()  # parked creates are decided against the state being discarded
        self.rendezvous.clear()
        self.backend.reset(scope)
        self.limiter.reset()
        if self.delivery is not None:
            self.delivery.reset()
        if scope == "all":
            self.faults = FaultPlan()
            self.journal.clear()
            self.stats.clear()

    def restore(self) -> None:
        """Back to exactly how the config started the fake (seed data, limiter, journal)."""
        from fake_calcom.backend.seed_data import default_seed_data

        config = self.config
        self.backend.replace_seed_data(config.seed_data if config.seed_data is not None else default_seed_data())
        self.reset("all")
        self.faults = FaultPlan.parse(self._initial_faults)
        self.limiter.configure(
            enabled=config.rate_limit,
            limit=config.rate_limit_per_minute,
            window_s=60,
            block_s=config.rate_limit_block_s,
        )
        self.journal.configure(enabled=config.journal, capacity=config.journal_capacity)

    async def create(self, request: CreateRequest, ctx: Ctx) -> CreateResult:
        """Create a booking, through the barrier when a barrier fault holds this request."""
        overbook = ctx.overbook is not None
        if overbook:
            ctx.overbook.fired += 1  # type: ignore[union-attr]
        if ctx.barrier is not None:
            return await self.barriers.park(ctx.barrier, request, overbook=overbook)
        return self.backend.create_booking(request, overbook=overbook)

    def stats_document(self) -> dict[str, Any]:
        counts = self.backend.webhooks.counts()
        return {
            "requests": dict(sorted(self.stats.requests.items())),
            "faults": self.faults.fired_counts(),
            "rate_limited": self.limiter.rejected,
            "bookings_created": self.backend.bookings_created,
            "webhooks": {
                "sent": counts.get("sent", 0),
                "failed": counts.get("failed", 0),
                "dropped": counts.get("dropped", 0),
                "pending": counts.get("pending", 0),
            },
        }
