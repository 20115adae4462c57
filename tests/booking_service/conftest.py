"""Fixtures for the booking service tests: databases (SQLite and MariaDB) and running stacks.

MariaDB tests need `HARNESS_MYSQL_URL` (a server URL, e.g. mysql+pymysql://root@127.0.0.1:3306/test,
as CI sets it). Each test session creates its own uniquely named database on that server and
drops it at the end; without the variable those tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from service_stack import Stack, StackFactory, open_stack
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from booking_service.db import async_url

MYSQL_ENV = "HARNESS_MYSQL_URL"
SKIP_REASON = f"{MYSQL_ENV} is not set (CI sets mysql+pymysql://root@127.0.0.1:3306/test): MariaDB tests skipped"

TABLES = (
    "audit_log",
    "booking_tombstones",
    "processed_webhooks",
    "appointments",
    "calls",
    "customers",
    "services",
    "branches",
    "companies",
)


@pytest.fixture(scope="session")
def mariadb_database() -> Iterator[str]:
    """A fresh database on the HARNESS_MYSQL_URL server for this session (dropped afterwards)."""
    server = os.environ.get(MYSQL_ENV)
    if not server:
        pytest.skip(SKIP_REASON)
    name = f"service_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(make_url(server).set(database=""), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def empty_mariadb(url: str) -> None:
    """Empty every service table (schema and migration state stay) so each test starts clean."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            existing = set(sa.inspect(connection).get_table_names())
            connection.execute(sa.text("SET FOREIGN_KEY_CHECKS=0"))
            for table in TABLES:
                if table in existing:
                    connection.execute(sa.text(f"TRUNCATE TABLE `{table}`"))
            connection.execute(sa.text("SET FOREIGN_KEY_CHECKS=1"))
    finally:
        engine.dispose()


POSTGRES_ENV = "HARNESS_POSTGRES_URL"  # optional, e.g. postgresql://postgres@127.0.0.1:5432/test
DATABASES = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
if os.environ.get(POSTGRES_ENV):
    DATABASES.append("postgresql")


async def _postgres_admin(server: str, statement: str) -> None:
    engine = create_async_engine(async_url(server), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """Like `mariadb_database`, on the HARNESS_POSTGRES_URL server (asyncpg needed)."""
    server = os.environ[POSTGRES_ENV]
    pytest.importorskip(
        "asyncpg", reason="PostgreSQL tests need asyncpg (pip install -e '.[postgres]')"
    )
    name = f"service_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_postgres_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def empty_postgres(url: str) -> None:
    async def truncate() -> None:
        engine = create_async_engine(async_url(url))
        try:
            async with engine.begin() as connection:
                existing = set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))
                tables = ", ".join(f'"{t}"' for t in TABLES if t in existing)
                if tables:
                    await connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(truncate())


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each DB-dependent test runs on a fresh SQLite file and on (an emptied) MariaDB.

    With HARNESS_POSTGRES_URL set, on PostgreSQL as well.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db')}/booking.db"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_database")
        empty_postgres(url)
        return url
    url = request.getfixturevalue("mariadb_database")
    empty_mariadb(url)
    return url


@pytest.fixture
def make_stack(database_url: str) -> StackFactory:
    """`async with make_stack(defenses=…, failpoints=…) as stack:` — fake + service on `database_url`."""

    def factory(**options: Any) -> contextlib.AbstractAsyncContextManager[Stack]:
        return open_stack(database_url, **options)

    return factory


@pytest.fixture
def make_mariadb_stack(mariadb_database: str) -> StackFactory:
    """Like `make_stack`, on (an emptied) MariaDB only: for what only a server database shows."""
    empty_mariadb(mariadb_database)

    def factory(**options: Any) -> contextlib.AbstractAsyncContextManager[Stack]:
        return open_stack(mariadb_database, **options)

    return factory
