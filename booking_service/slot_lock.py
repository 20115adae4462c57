"""The `slot_lock` defense: one booking flow per slot (company + start, UTC) at a time.

Held from the availability double-check until the local insert commits, so two callers asking
for the same slot in this service cannot both pass the check and both book. The lock lives
where the service's state lives: MariaDB/MySQL `GET_LOCK` (shared by every service process on
that database), PostgreSQL advisory locks, and for SQLite an in-process lock (SQLite serialises
writers itself; a SQLite deployment is one process).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


class SlotLockTimeout(Exception):
    """The slot stayed locked by another booking flow for longer than the lock timeout."""


def slot_key(company_id: int, start: datetime) -> str:
    return f"{company_id}:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


class SlotLocks(Protocol):
    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class NoSlotLocks:
    """The defense switched off."""

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        yield


class InProcessSlotLocks:
    """asyncio locks by key, dropped again when nobody holds or waits for them."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            try:
                await asyncio.wait_for(lock.acquire(), self.timeout_s)
            except TimeoutError as exc:
                raise SlotLockTimeout(key) from exc
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class MySQLSlotLocks:
    """`GET_LOCK` on a connection of its own, held for the whole flow.

    At most `max_holders` flows hold a lock connection at once, so lock holders can never take
    every pooled connection and starve their own queries.
    """

    def __init__(self, engine: AsyncEngine, timeout_s: float, max_holders: int = 10) -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self._holders = asyncio.Semaphore(max_holders)
        # Lock names are server-wide: include the database so two databases do not collide.
        self._namespace = f"{engine.url.host}:{engine.url.port}/{engine.url.database}"

    def _name(self, key: str) -> str:
        return "bs_slot_" + hashlib.sha1(f"{self._namespace}|{key}".encode()).hexdigest()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        name = self._name(key)
        async with self._holders, self.engine.connect() as connection:
            got = (
                await connection.execute(
                    sa.text("SELECT GET_LOCK(:name, :timeout)"),
                    {"name": name, "timeout": self.timeout_s},
                )
            ).scalar()
            await connection.commit()
            if got != 1:
                raise SlotLockTimeout(key)
            try:
                yield
            finally:
                try:
                    await connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
                    await connection.commit()
                except Exception:  # the lock dies with the connection anyway
                    log.warning("could not release slot lock %s cleanly", key, exc_info=True)
                    await connection.invalidate()


class PostgresSlotLocks:
    """Session-level advisory lock on a connection of its own (holders capped as for MySQL)."""

    def __init__(self, engine: AsyncEngine, timeout_s: float, max_holders: int = 10) -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self._holders = asyncio.Semaphore(max_holders)

    @staticmethod
    def _id(key: str) -> int:
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock_id = self._id(key)
        async with self._holders, self.engine.connect() as connection:
            await connection.execute(sa.text(f"SET lock_timeout = {int(self.timeout_s * 1000)}"))
            try:
                await connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            except sa.exc.DBAPIError as exc:
                raise SlotLockTimeout(key) from exc
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                await connection.commit()


def slot_locks_for(engine: AsyncEngine, *, enabled: bool, timeout_s: float) -> SlotLocks:
    if not enabled:
        return NoSlotLocks()
    name = engine.dialect.name
    # The pool allows pool_size + max_overflow connections; lock holders get at most half.
    pool_size = getattr(engine.pool, "size", lambda: 10)()
    if name == "mysql":
        return MySQLSlotLocks(engine, timeout_s, max_holders=max(1, pool_size))
    if name == "postgresql":
        return PostgresSlotLocks(engine, timeout_s, max_holders=max(1, pool_size))
    return InProcessSlotLocks(timeout_s)
