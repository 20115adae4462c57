"""Alembic environment of the booking service.

Normally the service runs migrations itself (`python -m booking_service migrate`, or on start-up)
and hands Alembic an open connection in `config.attributes["connection"]`. Run through the
`alembic` command instead, it connects to `sqlalchemy.url` with the async driver.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from booking_service.db import async_url
from booking_service.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online_from_url() -> None:
    engine = create_async_engine(
        async_url(config.get_main_option("sqlalchemy.url") or ""), poolclass=pool.NullPool
    )
    async with engine.connect() as connection:
        await connection.run_sync(_configure_and_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif config.attributes.get("connection") is not None:
    _configure_and_run(config.attributes["connection"])
else:
    asyncio.run(_run_online_from_url())
