"""What the service holds and how to wipe it: the test-control state and reset."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from booking_service.api import _appointments_query, appointment_json
from booking_service.context import ServiceContext
from booking_service.db import retry_transient
from booking_service.models import Base

#: Tables describing the tenants (loaded at start-up from the tenants file): kept across resets.
TENANT_TABLES = frozenset({"companies", "branches", "services"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


async def table_rows(ctx: ServiceContext, table: str) -> list[dict[str, Any]]:
    async with ctx.engine.connect() as connection:
        result = await connection.execute(sa.select(Base.metadata.tables[table]))
        return [{k: _plain(v) for k, v in row._mapping.items()} for row in result]


async def service_state(ctx: ServiceContext, *, rows: bool = False) -> dict[str, Any]:
    """Every appointment of every tenant (the read API's JSON), the audit log, the processed
    webhook deliveries and each table's row count (with `rows`, every row of every table)."""
    async with ctx.sessions() as session:
        found = (await session.execute(_appointments_query())).all()
        counts = {}
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int((await session.execute(
                sa.select(sa.func.count()).select_from(table))).scalar_one())
    state: dict[str, Any] = {
        "appointments": [appointment_json(a, s, c) for a, s, c in found],
        "audit_log": await table_rows(ctx, "audit_log"),
        "processed_webhooks": await table_rows(ctx, "processed_webhooks"),
        "tables": counts,
    }
    if rows:
        state["rows"] = {t.name: await table_rows(ctx, t.name) for t in Base.metadata.sorted_tables}
    return state


async def wipe_data(ctx: ServiceContext, attempts: int = 5) -> None:
    """Delete every data row, children first (tenants stay). A request still in flight from the
    previous scenario (a webhook delivery, a load user being stopped) may insert a row that
    references one being deleted: the FK violation or deadlock aborts the wipe, which then
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
