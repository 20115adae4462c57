"""Everything a flow needs at run time, built once per app from `Settings`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from booking_service import migrate
from booking_service.calcom.backoff import Backoff
from booking_service.calcom.circuit import CircuitBreaker
from booking_service.calcom.client import CalcomClient
from booking_service.calcom.models import EventTypeShape
from booking_service.clock import Clock, utc_now
from booking_service.db import Database, Timeouts, create_engine, dialect_label
from booking_service.defenses import apply_unique_constraint_mode, slot_locks_for
from booking_service.metrics import Metrics
from booking_service.settings import Defenses, Settings
from booking_service.slot_lock import SlotLocks, close_slot_locks
from booking_service.tenants import TenantDirectory, load_tenants, sync_tenants

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    settings: Settings
    engine: AsyncEngine
    db: Database
    calcom: CalcomClient
    metrics: Metrics
    tenants: TenantDirectory
    slot_locks: SlotLocks
    backoff: Backoff
    event_types: dict[int, EventTypeShape] = field(default_factory=dict)  # Cal.com's, cached

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Plain sessions (for tests and tools); flows use `db.read()` / `db.write()`."""
        return self.db.sessions

    @property
    def clock(self) -> Clock:
        return self.settings.the_clock

    @property
    def defenses(self) -> Defenses:
        return self.settings.defenses

    @property
    def database(self) -> str:
        return dialect_label(self.engine)

    def now(self) -> datetime:
        return utc_now(self.clock)

    async def failpoint(self, name: str, **context: Any) -> None:
        """Await the harness's hook at a named point, if one is registered (§2.5)."""
        hooks = self.settings.failpoints
        if hooks and name in hooks:
            await hooks[name]({"failpoint": name, **context})


async def open_context(settings: Settings) -> ServiceContext:
    """Connect, migrate (unless told not to), apply the schema defense, load tenants, start the client."""
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout_s=settings.db_pool_timeout_s,
        echo=settings.db_echo,
        timeouts=Timeouts(settings.db_connect_timeout_s, settings.db_read_timeout_s),
    )
    try:
        if settings.migrate_on_startup:
            await migrate.upgrade(engine)
        await apply_unique_constraint_mode(engine, settings.defenses.unique_constraint)
        db = Database(engine)
        tenants = await sync_tenants(
            db.sessions, load_tenants(settings.tenants), settings.calcom_api_key
        )
    except BaseException:
        await engine.dispose()
        raise
    metrics = Metrics()
    clock = settings.the_clock
    circuit = CircuitBreaker(
        failure_threshold=settings.circuit_failure_threshold,
        open_s=settings.circuit_open_s,
        now=lambda: utc_now(clock),
        on_change=metrics.set_circuit_state,
    )
    backoff = Backoff(settings.backoff_base_s, settings.backoff_cap_s, settings.rng())
    calcom = CalcomClient(
        base_url=settings.calcom_base_url,
        timeout_s=settings.calcom_timeout_s,
        retry_attempts=settings.retry_attempts,
        backoff=backoff,
        clock=clock,
        max_rate_limit_wait_s=settings.max_rate_limit_wait_s,
        circuit=circuit,
        metrics=metrics,
    )
    await calcom.start()
    off = settings.defenses.off
    if off:
        log.warning("DEFENSES OFF: %s", ", ".join(off))
    return ServiceContext(
        settings=settings,
        engine=engine,
        db=db,
        calcom=calcom,
        metrics=metrics,
        tenants=tenants,
        slot_locks=slot_locks_for(
            engine,
            enabled=settings.defenses.slot_lock,
            timeout_s=settings.slot_lock_timeout_s,
            connections=settings.slot_lock_connections,
        ),
        backoff=backoff,
    )


async def close_context(ctx: ServiceContext) -> None:
    await ctx.calcom.close()
    await close_slot_locks(ctx.engine)
    await ctx.engine.dispose()
