"""The service's own record of its bookings: one SQLite table (aiosqlite).

A booking keeps its id for life; Cal.com gives it a new uid on every reschedule, so the row
keeps the uids (and starts) it had before in `replaced_calcom_bookings` — which Cal.com booking
a caller was once told about stays answerable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    event_type_id INTEGER NOT NULL,
    start TEXT NOT NULL,              -- UTC, ISO 8601 with Z
    "end" TEXT,
    host_id INTEGER,                  -- the Cal.com host who sees the customer
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT,
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
    calcom_uid TEXT NOT NULL,
    replaced_calcom_bookings TEXT NOT NULL DEFAULT '[]',  -- [{"calcom_uid", "start"}]
    request_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bookings_start ON bookings (start);
CREATE INDEX IF NOT EXISTS bookings_phone ON bookings (phone);
CREATE INDEX IF NOT EXISTS bookings_request ON bookings (request_id);
"""


class DatabaseUrlError(ValueError):
    pass


def sqlite_path(url: str) -> str:
    """`sqlite:///file.db` (relative), `sqlite:////abs/file.db` or `sqlite:///:memory:`."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise DatabaseUrlError(f"--database must look like sqlite:///bookings.db, got {url!r} "
                               f"(this example speaks SQLite only)")
    return url[len(prefix):]


def z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class NewBooking:
    service: str
    event_type_id: int
    start: datetime
    end: datetime | None
    host_id: int | None
    name: str
    phone: str
    email: str | None
    calcom_uid: str
    request_id: str | None


class Store:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, url: str) -> Store:
        path = sqlite_path(url)
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise DatabaseUrlError(f"--database: directory {Path(path).parent} does not exist")
        db = await aiosqlite.connect(path)
        db.row_factory = aiosqlite.Row
        await db.executescript(SCHEMA)
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    async def insert(self, new: NewBooking, now: datetime) -> dict[str, Any]:
        cursor = await self.db.execute(
            'INSERT INTO bookings (service, event_type_id, start, "end", host_id, name, phone, '
            "email, status, calcom_uid, request_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'confirmed', ?, ?, ?, ?)",
            (new.service, new.event_type_id, z(new.start), new.end and z(new.end), new.host_id,
             new.name, new.phone, new.email, new.calcom_uid, new.request_id, z(now), z(now)))
        await self.db.commit()
        booking = await self.get(cursor.lastrowid or 0)
        assert booking is not None
        return booking

    async def get(self, booking_id: int) -> dict[str, Any] | None:
        rows = await self._select("id = ?", (booking_id,))
        return rows[0] if rows else None

    async def by_request(self, request_id: str) -> dict[str, Any] | None:
        rows = await self._select("request_id = ?", (request_id,))
        return rows[0] if rows else None

    async def confirmed_at(self, event_type_id: int, start: datetime) -> list[dict[str, Any]]:
        return await self._select("event_type_id = ? AND start = ? AND status = 'confirmed'",
                                  (event_type_id, z(start)))

    async def by_phone(self, phone: str) -> list[dict[str, Any]]:
        return await self._select("phone = ?", (phone,))

    async def between(self, first: datetime, after: datetime) -> list[dict[str, Any]]:
        """Bookings starting at `first` or later, before `after`."""
        return await self._select("start >= ? AND start < ?", (z(first), z(after)))

    async def cancel(self, booking_id: int, now: datetime) -> dict[str, Any] | None:
        await self.db.execute("UPDATE bookings SET status = 'cancelled', updated_at = ? "
                              "WHERE id = ?", (z(now), booking_id))
        await self.db.commit()
        return await self.get(booking_id)

    async def move(self, booking: dict[str, Any], calcom_uid: str, start: datetime,
                   end: datetime | None, host_id: int | None,
                   now: datetime) -> dict[str, Any] | None:
        replaced = [*booking["replaced_calcom_bookings"],
                    {"calcom_uid": booking["calcom_uid"], "start": booking["start"]}]
        await self.db.execute(
            'UPDATE bookings SET calcom_uid = ?, start = ?, "end" = ?, host_id = ?, '
            "replaced_calcom_bookings = ?, updated_at = ? WHERE id = ?",
            (calcom_uid, z(start), end and z(end), host_id, json.dumps(replaced), z(now),
             booking["id"]))
        await self.db.commit()
        return await self.get(booking["id"])

    async def _select(self, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self.db.execute(f"SELECT * FROM bookings WHERE {where} ORDER BY start, id",
                                   args) as cursor:
            rows = await cursor.fetchall()
        return [_public(dict(row)) for row in rows]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API shows it."""
    row["replaced_calcom_bookings"] = json.loads(row["replaced_calcom_bookings"])
    return row


def host_of(booking: dict[str, Any]) -> int | None:
    """The host of a Cal.com booking (round robin picks one of several)."""
    hosts = booking.get("hosts") or []
    host = hosts[0].get("id") if hosts and isinstance(hosts[0], dict) else None
    return host if isinstance(host, int) else None
