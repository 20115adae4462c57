"""The slot locks of the `slot_lock` defense: one booking flow per slot (company + start, UTC) at
a time. Which one a service holds (or none, when the defense is off) is decided by
`booking_service.defenses.slot_locks_for`.

Held from the availability double-check until the local insert commits, so two callers asking
for the same slot in this service cannot both pass the check and both book. The lock lives
where the service's state lives: MariaDB/MySQL `GET_LOCK` (shared by every service process on
that database), PostgreSQL advisory locks, and for SQLite an in-process lock (SQLite serialises
writers itself; a SQLite deployment is one process).

Waiting costs no database connection. Flows for one slot queue on an in-process lock first, so
a process holds at most one lock connection per slot, and only to wait for other processes.
Lock connections come from a small engine of their own, never from the pool the flows' queries
use: fifty callers queued for one slot once held fifty pooled connections, and the flow holding
the lock could not get one for its own insert (pool timeout, an unhandled error).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from booking_service.db import DATABASE_DOWN, bounded_mysql_connect, timeouts_of

log = logging.getLogger(__name__)

#: Lock connections per process by default: one per slot being booked at the same moment.
DEFAULT_LOCK_CONNECTIONS = 20


class SlotLockUnavailable(Exception):
    """The slot lock could not be taken in time."""


class SlotLockTimeout(SlotLockUnavailable):
    """The slot stayed locked by another booking flow for longer than the lock timeout."""


class SlotLockBusy(SlotLockUnavailable):
    """Every lock connection of this process was busy with other slots for the whole timeout."""


def slot_key(company_id: int, start: datetime) -> str:
    return f"{company_id}:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


class SlotLocks(Protocol):
    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class NoSlotLocks:
    """The defense switched off."""

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        yield


class KeyedLocks:
    """asyncio locks by key, dropped again when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def flows(self, key: str) -> int:
        """How many flows of this process hold or wait for `key`."""
        entry = self._locks.get(key)
        return entry[1] if entry else 0

    @contextlib.asynccontextmanager
    async def hold(self, key: str, timeout_s: float) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(timeout_s):
                    await lock.acquire()
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


class InProcessSlotLocks:
    """SQLite: the in-process lock is the whole lock."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.queue = KeyedLocks()

    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self.queue.hold(key, self.timeout_s)


class DatabaseSlotLocks:
    """A lock in the database, shared by every service process on it; subclasses say which.

    A flow first queues in-process for its slot (no connection held), then takes one of this
    process's lock connections, then the database lock, all within `timeout_s` together.
    """

    def __init__(
        self, engine: AsyncEngine, timeout_s: float, connections: int = DEFAULT_LOCK_CONNECTIONS
    ) -> None:
        self.lock_engine = lock_engine_for(engine, connections, wait_s=timeout_s)
        self.timeout_s = timeout_s
        self.queue = KeyedLocks()
        self._connections = asyncio.Semaphore(self.lock_engine.pool.size())  # type: ignore[attr-defined]

    async def _lock(self, connection: AsyncConnection, key: str, timeout_s: float) -> None:
        raise NotImplementedError

    async def _unlock(self, connection: AsyncConnection, key: str) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        async with self.queue.hold(key, self.timeout_s):
            try:
                async with asyncio.timeout_at(deadline):
                    await self._connections.acquire()
            except TimeoutError as exc:
                raise SlotLockBusy(key) from exc
            try:
                async with self._connection(key) as connection:
                    await self._lock(connection, key, max(0.0, deadline - loop.time()))
                    try:
                        yield
                    finally:
                        try:
                            await self._unlock(connection, key)
                        except DATABASE_DOWN as exc:  # the lock dies with the connection
                            log.warning("could not release slot lock %s: database unavailable "
                                        "(%s)", key, type(exc).__name__)
                            await connection.invalidate()
                        except Exception:  # the lock dies with the connection anyway
                            log.warning(
                                "could not release slot lock %s cleanly", key, exc_info=True
                            )
                            await connection.invalidate()
            finally:
                self._connections.release()

    @contextlib.asynccontextmanager
    async def _connection(self, key: str) -> AsyncIterator[AsyncConnection]:
        connection = self.lock_engine.connect()
        try:
            await connection.start()
        except sa.exc.TimeoutError as exc:  # only when an older SlotLocks still uses the pool
            raise SlotLockBusy(key) from exc
        try:
            yield connection
        finally:
            await connection.close()


class MySQLSlotLocks(DatabaseSlotLocks):
    """`GET_LOCK` (server-wide names, so the database is part of the name)."""

    def __init__(
        self, engine: AsyncEngine, timeout_s: float, connections: int = DEFAULT_LOCK_CONNECTIONS
    ) -> None:
        super().__init__(engine, timeout_s, connections)
        self._namespace = f"{engine.url.host}:{engine.url.port}/{engine.url.database}"

    def _name(self, key: str) -> str:
        return "bs_slot_" + hashlib.sha1(f"{self._namespace}|{key}".encode()).hexdigest()

    async def _lock(self, connection: AsyncConnection, key: str, timeout_s: float) -> None:
        got = (
            await connection.execute(
                sa.text("SELECT GET_LOCK(:name, :timeout)"),
                {"name": self._name(key), "timeout": timeout_s},
            )
        ).scalar()
        if got != 1:
            raise SlotLockTimeout(key)

    async def _unlock(self, connection: AsyncConnection, key: str) -> None:
        await connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": self._name(key)})


class PostgresSlotLocks(DatabaseSlotLocks):
    """Session-level advisory locks."""

    @staticmethod
    def _id(key: str) -> int:
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)

    async def _lock(self, connection: AsyncConnection, key: str, timeout_s: float) -> None:
        # lock_timeout 0 means "wait forever" to PostgreSQL: 1 ms is the shortest wait.
        await connection.execute(sa.text(f"SET lock_timeout = {max(1, int(timeout_s * 1000))}"))
        try:
            await connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": self._id(key)})
        except sa.exc.DBAPIError as exc:
            raise SlotLockTimeout(key) from exc

    async def _unlock(self, connection: AsyncConnection, key: str) -> None:
        await connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": self._id(key)})


# One lock engine per service engine, kept across `slot_locks_for` calls (the embedded harness
# builds new slot locks whenever it switches defenses) and disposed with the service.
_lock_engines: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()


def lock_engine_for(engine: AsyncEngine, connections: int, wait_s: float = 0.0) -> AsyncEngine:
    """The small engine the slot locks of `engine`'s service take their connections from.

    On MySQL its reads are bounded like the service engine's, plus `wait_s`: `GET_LOCK` may
    wait that long for the lock before it answers."""
    lock_engine = _lock_engines.get(engine.sync_engine)
    if lock_engine is None:
        extra: dict[str, Any] = {}
        timeouts = timeouts_of(engine)
        if timeouts is not None and engine.dialect.name == "mysql":
            extra["async_creator"] = bounded_mysql_connect(engine.url, timeouts.longer(wait_s))
        lock_engine = create_async_engine(
            engine.url,
            pool_size=max(1, connections),
            max_overflow=0,
            pool_recycle=1800,
            isolation_level="AUTOCOMMIT",  # session-level locks; nothing to commit
            **extra,
        )
        _lock_engines[engine.sync_engine] = lock_engine
    return lock_engine


async def close_slot_locks(engine: AsyncEngine) -> None:
    """Dispose of the lock engine of `engine`'s service, if it has one."""
    lock_engine = _lock_engines.pop(engine.sync_engine, None)
    if lock_engine is not None:
        await lock_engine.dispose()
