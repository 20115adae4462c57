"""Reach into an in-process booking service between scenarios (embedded stack only).

A scenario must start from a clean slate without paying for a new database and a new app each
time: wipe the data tables (tenants stay), close the circuit, and apply the defenses the next
scenario runs with. Only the harness does this; the service exposes nothing of it over HTTP.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from booking_service.api import CONTEXT
from booking_service.context import ServiceContext, apply_unique_constraint_mode
from booking_service.db import retry_transient
from booking_service.models import Base
from booking_service.settings import Defenses
from booking_service.slot_lock import slot_locks_for

#: Tables describing the tenants (loaded at start-up from the tenants file): kept across resets.
TENANT_TABLES = frozenset({"companies", "branches", "services"})


def context_of(app: web.Application) -> ServiceContext:
    return app[CONTEXT]


async def reset_service(app: web.Application, defenses: Defenses) -> None:
    ctx = context_of(app)
    await wipe_data(ctx)
    await apply_defenses(ctx, defenses)
    ctx.calcom.reset()  # circuit closed, rate-limit windows forgotten


async def wipe_data(ctx: ServiceContext, attempts: int = 5) -> None:
    """Delete every data row, children first. A request still in flight from the previous
    scenario or load step (a webhook delivery, a Locust user being stopped) may insert a row
    that references one being deleted: the FK violation or deadlock aborts the wipe, which then
    simply runs again."""

    async def wipe() -> None:
        async with ctx.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in TENANT_TABLES:
                    await connection.execute(sa.delete(table))

    for attempt in range(1, attempts + 1):
        try:
            await retry_transient(wipe)
            return
        except sa.exc.IntegrityError:
            if attempt == attempts:
                raise


async def apply_defenses(ctx: ServiceContext, defenses: Defenses) -> None:
    """Switch defenses on a running service: flags, the slot-lock implementation and the index."""
    if ctx.settings.defenses.unique_constraint != defenses.unique_constraint:
        await apply_unique_constraint_mode(ctx.engine, defenses.unique_constraint)
    ctx.settings.defenses = defenses
    ctx.slot_locks = slot_locks_for(ctx.engine, enabled=defenses.slot_lock,
                                    timeout_s=ctx.settings.slot_lock_timeout_s)


async def table_rows(app: web.Application, table: str) -> list[dict[str, Any]]:
    """All rows of one service table as dicts (for the checkers' service view)."""
    ctx = context_of(app)
    async with ctx.engine.connect() as connection:
        result = await connection.execute(sa.select(Base.metadata.tables[table]))
        return [dict(row._mapping) for row in result]
