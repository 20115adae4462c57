"""Choose the booking service's database for a run, and say which one was used.

Order of preference:
1. an explicit URL (``--database-url`` or ``HARNESS_DB_URL``): used as given;
2. ``HARNESS_MYSQL_URL`` (a MariaDB/MySQL *server*): a fresh database is created on it for the
   run and dropped afterwards, so parallel runs and xdist workers never share tables;
3. a MySQL container through testcontainers, when a Docker engine answers (probed in well under
   a second, so machines without Docker lose no time);
4. a SQLite file in a temporary directory.

SQLite serialises writers and hides races; the run summary therefore always names the database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DOCKER_PROBE_TIMEOUT_S = 0.3


@dataclass(frozen=True)
class DatabaseChoice:
    """The database a run uses: its SQLAlchemy URL and a human-readable account of why."""

    url: str
    kind: str  # "sqlite" | "mariadb" | "mysql" | "postgresql"
    origin: str  # "explicit" | "mysql-server" | "testcontainers" | "sqlite-temp"
    description: str
    _cleanup: list = field(default_factory=list, repr=False, compare=False)

    def close(self) -> None:
        """Drop what the choice created (a per-run database, a container, a temp dir)."""
        while self._cleanup:
            self._cleanup.pop()()


def kind_of(url: str) -> str:
    scheme = urlsplit(url).scheme.split("+")[0]
    return {"mysql": "mariadb", "mariadb": "mariadb", "postgresql": "postgresql",
            "postgres": "postgresql"}.get(scheme, scheme)


def redact(url: str) -> str:
    """The URL without its password, for logs and reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def docker_available(timeout_s: float = DOCKER_PROBE_TIMEOUT_S) -> bool:
    """True when a Docker engine answers ``GET /_ping`` within the timeout."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            path = host.removeprefix("unix://")
            if not Path(path).exists():
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout_s)
            sock.connect(path)
        elif host.startswith("tcp://"):
            target = urlsplit(host)
            sock = socket.create_connection((target.hostname, target.port or 2375), timeout_s)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


def _connect(server_url: str) -> object:
    import pymysql

    parts = urlsplit(server_url)
    return pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                           user=parts.username or "root", password=parts.password or "",
                           connect_timeout=5)


def _execute(server_url: str, statement: str) -> None:
    conn = _connect(server_url)
    try:
        with conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(statement)
    finally:
        conn.close()  # type: ignore[attr-defined]


def create_mysql_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server behind ``server_url``; return its URL.

    utf8mb4_bin: Cal.com uids are case-sensitive base58, so a case-insensitive collation would
    let two different uids collide in the UNIQUE index."""
    _execute(server_url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def drop_mysql_database(server_url: str, name: str) -> None:
    import pymysql

    with contextlib.suppress(pymysql.MySQLError):
        _execute(server_url, f"DROP DATABASE IF EXISTS `{name}`")


def fresh_mysql_database(server_url: str, label: str = "run") -> DatabaseChoice:
    """A new, uniquely named database on a MariaDB/MySQL server, dropped on ``close()``."""
    name = f"calh_{label}_{secrets.token_hex(4)}"[:64]
    url = create_mysql_database(server_url, name)
    return DatabaseChoice(url=url, kind="mariadb", origin="mysql-server",
                          description=f"MariaDB/MySQL database {name} on {redact(server_url)}",
                          _cleanup=[lambda: drop_mysql_database(server_url, name)])


def sqlite_temp(label: str = "run") -> DatabaseChoice:
    tmp = tempfile.TemporaryDirectory(prefix=f"calharness-{label}-")
    path = Path(tmp.name) / "booking.sqlite3"
    return DatabaseChoice(url=f"sqlite:///{path}", kind="sqlite", origin="sqlite-temp",
                          description=f"SQLite file {path} (serialises writers: races are hidden)",
                          _cleanup=[tmp.cleanup])


def mysql_container() -> DatabaseChoice | None:
    """A throwaway MariaDB container via testcontainers, or None when that is not possible."""
    if not docker_available():
        return None
    try:
        try:
            from testcontainers.community.mysql import MySqlContainer
        except ImportError:
            from testcontainers.mysql import MySqlContainer
    except ImportError:
        return None
    container = MySqlContainer("mariadb:11", dialect="pymysql")
    container.start()
    url = container.get_connection_url()
    return DatabaseChoice(url=url, kind="mariadb", origin="testcontainers",
                          description=f"MariaDB container {container.get_wrapped_container().short_id}",
                          _cleanup=[container.stop])


def choose_database(explicit_url: str | None = None, *, label: str = "run",
                    allow_docker: bool = True) -> DatabaseChoice:
    """Pick the run's database following the order in the module docstring."""
    url = explicit_url or os.environ.get("HARNESS_DB_URL")
    if url:
        return DatabaseChoice(url=url, kind=kind_of(url), origin="explicit",
                              description=f"{kind_of(url)} at {redact(url)} (given)")
    server = os.environ.get("HARNESS_MYSQL_URL")
    if server:
        return fresh_mysql_database(server, label)
    if allow_docker:
        choice = mysql_container()
        if choice is not None:
            return choice
    return sqlite_temp(label)


@contextlib.contextmanager
def database(explicit_url: str | None = None, *, label: str = "run",
             allow_docker: bool = True) -> Iterator[DatabaseChoice]:
    choice = choose_database(explicit_url, label=label, allow_docker=allow_docker)
    try:
        yield choice
    finally:
        choice.close()
