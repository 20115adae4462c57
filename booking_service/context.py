"""Everything a flow needs at run time, built once per app from `Settings`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from booking_service import migrate
from booking_service.calcom.backoff import Backoff
from booking_service.calcom.circuit import CircuitBreaker
from booking_service.calcom.client import CalcomClient
from booking_service.calcom.models import EventTypeShape
from booking_service.clock import Clock, utc_now
from booking_service.db import Database, create_engine, dialect_label
from booking_service.metrics import Metrics
from booking_service.models import PLAIN_BOOKING_UID_INDEX, UNIQUE_BOOKING_UID_INDEX
from booking_service.settings import Defenses, Settings
from booking_service.slot_lock import SlotLocks, close_slot_locks, slot_locks_for
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


async def apply_unique_constraint_mode(engine: AsyncEngine, enabled: bool) -> None:
    """The `unique_constraint` defense lives in the schema: make the index match the switch."""

    def indexes(connection: sa.Connection) -> dict[str, bool]:
        found = sa.inspect(connection).get_indexes("appointments")
        return {ix["name"]: bool(ix["unique"]) for ix in found if ix["name"]}

    async with engine.begin() as connection:
        present = await connection.run_sync(indexes)
        table = sa.Table(
            "appointments", sa.MetaData(), sa.Column("calcom_booking_uid", sa.String(64))
        )
        if enabled:
            if present.get(UNIQUE_BOOKING_UID_INDEX):
                return
            if PLAIN_BOOKING_UID_INDEX in present:
                await connection.run_sync(
                    lambda c: sa.Index(PLAIN_BOOKING_UID_INDEX, table.c.calcom_booking_uid).drop(c)
                )
            try:
                await connection.run_sync(
                    lambda c: sa.Index(
                        UNIQUE_BOOKING_UID_INDEX, table.c.calcom_booking_uid, unique=True
                    ).create(c)
                )
            except sa.exc.IntegrityError as exc:
                raise RuntimeError(
                    "cannot restore the UNIQUE index on appointments.calcom_booking_uid: the database "
                    "already holds duplicate appointments for one Cal.com booking (made while the "
                    "unique_constraint defense was off); clean them up or use a fresh database"
                ) from exc
            log.info("unique_constraint: UNIQUE index on appointments.calcom_booking_uid restored")
        else:
            if UNIQUE_BOOKING_UID_INDEX in present:
                await connection.run_sync(
                    lambda c: sa.Index(UNIQUE_BOOKING_UID_INDEX, table.c.calcom_booking_uid).drop(c)
                )
            if PLAIN_BOOKING_UID_INDEX not in present:
                await connection.run_sync(
                    lambda c: sa.Index(PLAIN_BOOKING_UID_INDEX, table.c.calcom_booking_uid).create(
                        c
                    )
                )
            log.warning(
                "DEFENSE OFF unique_constraint: dropped the UNIQUE index on appointments.calcom_booking_uid; "
                "two appointments may now hold one Cal.com booking"
            )


async def open_context(settings: Settings) -> ServiceContext:
    """Connect, migrate (unless told not to), apply the schema defense, load tenants, start the client."""
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout_s=settings.db_pool_timeout_s,
        echo=settings.db_echo,
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
