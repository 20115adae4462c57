"""Database URLs, the async engine and sessions.

Users give ordinary URLs (`sqlite:///booking.db`, `mysql+pymysql://…`, `postgresql://…`); the
service maps them to the asyncio driver of the same database (aiosqlite, aiomysql, asyncpg).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

READ_ONLY_OPTION = "booking_service_read_only"

log = logging.getLogger(__name__)
T = TypeVar("T")

#: MySQL/MariaDB errors that abort a transaction which would succeed if run again: InnoDB's
#: deadlock (concurrent inserts of one unique key take conflicting gap locks) and lock-wait
#: timeout. PostgreSQL's serialization failure and deadlock.
TRANSIENT_MYSQL_ERRORS = frozenset({1213, 1205})
TRANSIENT_PG_STATES = frozenset({"40001", "40P01"})
TRANSIENT_ATTEMPTS = 5


def is_transient(exc: BaseException) -> bool:
    """True for a database error the database asks us to retry ("try restarting transaction")."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    code = orig.args[0] if orig is not None and orig.args else None
    if code in TRANSIENT_MYSQL_ERRORS:
        return True
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state in TRANSIENT_PG_STATES


async def retry_transient(transaction: Callable[[], Awaitable[T]],
                          attempts: int = TRANSIENT_ATTEMPTS) -> T:
    """Run a whole transaction again when the database aborted it as a deadlock victim.

    The victim is rolled back at once and its rival goes on, so running it again right away is
    what the database asks for; any other error, and the last attempt's, propagates."""
    for attempt in range(1, attempts + 1):
        try:
            return await transaction()
        except sa.exc.DBAPIError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            log.warning("transaction aborted by the database (%s), attempt %d of %d: running it "
                        "again", exc.orig, attempt, attempts)
            await asyncio.sleep(0)  # let the surviving transaction commit first
    raise AssertionError("unreachable")

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


class DatabaseURLError(ValueError):
    """A database URL the service cannot use."""


def async_url(url: str | URL) -> URL:
    """The asyncio-driver URL for `url` (`sqlite:///x.db` → `sqlite+aiosqlite:///x.db`, …)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError as exc:
        raise DatabaseURLError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise DatabaseURLError(
            f"unsupported database {backend!r}: use sqlite:///…, mysql+pymysql://… or postgresql://…"
        )
    if backend == "postgres":
        backend = "postgresql"
    return parsed.set(drivername=driver)


def dialect_label(engine: AsyncEngine) -> str:
    """`sqlite`, `mariadb`, `mysql` or `postgresql` (what /healthz reports)."""
    name = engine.dialect.name
    if name == "mysql" and getattr(engine.dialect, "is_mariadb", False):
        return "mariadb"
    return name


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


@dataclass(frozen=True)
class Timeouts:
    """How long one database round trip may take: connecting (TCP and handshake) and waiting for
    an answer (`read_s`; the request is written at once, so that bounds writing too)."""

    connect_s: float = 5.0
    read_s: float = 10.0

    def longer(self, extra_s: float) -> Timeouts:
        return Timeouts(self.connect_s, self.read_s + extra_s)


# The timeouts of each engine create_engine made (the slot locks' engine copies them).
_engine_timeouts: weakref.WeakKeyDictionary[Any, Timeouts] = weakref.WeakKeyDictionary()


def timeouts_of(engine: AsyncEngine) -> Timeouts | None:
    return _engine_timeouts.get(engine.sync_engine)


def _lost(code: int, text: str) -> Exception:
    import pymysql

    return pymysql.err.OperationalError(code, text)


def bounded_mysql_connect(target: URL, timeouts: Timeouts) -> Callable[[], Awaitable[Any]]:
    """An `async_creator` for aiomysql whose connections time out on connect and on every read.

    aiomysql bounds only the TCP connect (`connect_timeout`); its handshake and its reads wait
    forever, so a database paused with SIGSTOP (a frozen VM, a stuck disk) held every request
    for the whole pause, `/healthz` included. Each wait here ends in the driver's own
    "lost connection" error (2013), which SQLAlchemy treats as a disconnect: it drops the
    connection rather than sending a rollback to the silent server.
    """
    import aiomysql  # type: ignore[import-untyped]

    _, params = target.get_dialect()().create_connect_args(target)

    async def connect() -> Any:
        try:
            async with asyncio.timeout(timeouts.connect_s):
                connection = await aiomysql.connect(**params, connect_timeout=timeouts.connect_s)
        except TimeoutError as exc:
            raise _lost(2003, f"Can't connect to MySQL server (no handshake in "
                              f"{timeouts.connect_s:g} s)") from exc
        read_packet = connection._read_packet

        async def bounded_read(*args: Any, **kwargs: Any) -> Any:
            try:
                async with asyncio.timeout(timeouts.read_s):
                    return await read_packet(*args, **kwargs)
            except TimeoutError as exc:
                connection.close()
                raise _lost(2013, f"Lost connection to MySQL server (no answer in "
                                  f"{timeouts.read_s:g} s)") from exc

        connection._read_packet = bounded_read
        return connection

    return connect


#: What a request meets when the database cannot serve it now: no pooled connection in time
#: (`sa.exc.TimeoutError`), or the server refused, vanished or stopped answering (the driver's
#: connection errors and the bounded connections' timeouts, as OperationalError/InterfaceError).
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sa.exc.TimeoutError,
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
)


class LostConnectionFilter(logging.Filter):
    """SQLAlchemy's pool logs a failed rollback on check-in (the server died while the
    connection was out) at ERROR with a traceback: with the database down, one per request.
    One line instead; other errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _is_lost_connection(exc):
            record.msg = f"{record.getMessage()}: {str(exc).splitlines()[0]}"
            record.args, record.exc_info, record.exc_text = None, None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _is_lost_connection(exc: BaseException) -> bool:
    import pymysql

    kinds = (ConnectionError, pymysql.err.OperationalError, pymysql.err.InterfaceError)
    return isinstance(exc, (*kinds, *DATABASE_DOWN))


def quiet_lost_connections(engine: AsyncEngine) -> None:
    """Install `LostConnectionFilter` on the logger of `engine`'s pool (a logger's filters do
    not see its children's records, so on the pool class's own logger; once per process)."""
    pool_log: Any = engine.sync_engine.pool.logger  # a Logger, or SQLAlchemy's InstanceLogger
    target: logging.Logger = getattr(pool_log, "logger", pool_log)
    if not any(isinstance(f, LostConnectionFilter) for f in target.filters):
        target.addFilter(LostConnectionFilter())


def create_engine(
    url: str | URL,
    *,
    pool_size: int = 20,
    pool_timeout_s: float = 30.0,
    echo: bool = False,
    timeouts: Timeouts | None = None,
) -> AsyncEngine:
    """An async engine tuned for this service's short transactions (on MySQL/MariaDB, every
    connect and every read bounded by `timeouts`)."""
    target = async_url(url)
    backend = target.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo, "pool_timeout": pool_timeout_s}
    if backend == "sqlite":
        if is_memory_sqlite(target):
            raise DatabaseURLError(
                "an in-memory SQLite database is not shared between connections; use a file "
                "(sqlite:///booking.db)"
            )
        folder = Path(target.database or "").expanduser().resolve().parent
        if not folder.is_dir():
            raise DatabaseURLError(f"the folder of the SQLite database does not exist: {folder}")
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # No pre-ping: it costs a round trip per checkout (a third of the throughput on
        # MariaDB). Connections are recycled well inside the server's idle timeout, and a
        # connection found dead mid-request makes SQLAlchemy drop the whole pool at once.
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    bounded = timeouts or Timeouts()
    if backend == "mysql":
        # Each transaction sees what committed before it started its statements: the
        # double-check after taking the slot lock must see the other holder's insert.
        kwargs["isolation_level"] = "READ COMMITTED"
        kwargs["async_creator"] = bounded_mysql_connect(target, bounded)
    engine = create_async_engine(target, **kwargs)
    _engine_timeouts[engine.sync_engine] = bounded
    if backend == "mysql":
        quiet_lost_connections(engine)
    if backend == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and `BEGIN IMMEDIATE` for every transaction.

    SQLite has one writer at a time. A deferred transaction that reads and then writes can fail
    at once with SQLITE_BUSY when another writer got in first (the busy timeout does not help);
    taking the write lock at BEGIN makes transactions queue instead. That is SQLite's own
    serialisation, which the slot lock relies on there.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not emit its own BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers need no write lock (WAL lets them run beside the writer).
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """Sessions that say what they are for: `read()` or `write()` (one transaction, committed).

    On SQLite, writers also queue on an in-process lock: SQLite has one writer at a time and
    its busy handler waits by sleeping, so letting writers collide costs whole milliseconds.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self._readers = session_factory(engine.execution_options(**{READ_ONLY_OPTION: True}))
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._readers() as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        if self._write_lock is None:
            async with self.sessions.begin() as session:
                yield session
            return
        async with self._write_lock, self.sessions.begin() as session:
            yield session
