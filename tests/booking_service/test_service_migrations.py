"""Alembic migrations: upgrade and downgrade on SQLite and MariaDB, and no drift from the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from booking_service import migrate
from booking_service.context import apply_unique_constraint_mode
from booking_service.db import create_engine
from booking_service.models import PLAIN_BOOKING_UID_INDEX, UNIQUE_BOOKING_UID_INDEX, Base

SERVICE_TABLES = {
    "companies",
    "branches",
    "services",
    "customers",
    "calls",
    "appointments",
    "processed_webhooks",
    "booking_tombstones",
    "audit_log",
}


async def _tables(engine: sa.ext.asyncio.AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def _uid_indexes(engine: sa.ext.asyncio.AsyncEngine) -> dict[str, bool]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda c: sa.inspect(c).get_indexes("appointments"))
    return {
        ix["name"]: bool(ix["unique"])
        for ix in found
        if ix["column_names"] == ["calcom_booking_uid"]
    }


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.downgrade(engine, "base")  # a reused MariaDB database starts from nothing too
        assert await migrate.current_revision(engine) is None
        assert not (await _tables(engine)) & SERVICE_TABLES

        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert await _tables(engine) >= SERVICE_TABLES
        assert await _uid_indexes(engine) == {UNIQUE_BOOKING_UID_INDEX: True}

        await migrate.downgrade(engine, "base")
        assert not (await _tables(engine)) & SERVICE_TABLES

        await migrate.upgrade(engine)
        assert await _tables(engine) >= SERVICE_TABLES
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )
        assert diff == []
    finally:
        await engine.dispose()


async def test_unique_constraint_switch_drops_and_restores_the_index(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        await apply_unique_constraint_mode(engine, enabled=False)
        assert await _uid_indexes(engine) == {PLAIN_BOOKING_UID_INDEX: False}
        await apply_unique_constraint_mode(engine, enabled=False)  # idempotent
        await apply_unique_constraint_mode(engine, enabled=True)
        assert await _uid_indexes(engine) == {UNIQUE_BOOKING_UID_INDEX: True}
    finally:
        await engine.dispose()
