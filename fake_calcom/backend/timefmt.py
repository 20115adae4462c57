"""Time formats Cal.com speaks: JS `toISOString()` (ms, `Z`) and luxon ISO with an offset."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # date
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2})?)?$"
)


def iso_ms(dt: datetime) -> str:
    """`2025-10-10T08:00:00.000Z`, the shape of JavaScript's `Date.toISOString()`."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    # isoformat is implemented in C: "…T08:00:00.000+00:00" -> "…T08:00:00.000Z"
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"


def iso_seconds(dt: datetime) -> str:
    """`2025-10-10T08:00:00Z` (webhook startTime/endTime: dayjs `format()` in UTC)."""
    return f"{dt.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def iso_in_zone(dt: datetime, zone: ZoneInfo | None) -> str:
    """Luxon's `toISO()`: `2050-09-05T09:00:00.000+02:00`; plain `…Z` for UTC."""
    if zone is None:
        return iso_ms(dt)
    if zone.key in ("UTC", "Etc/UTC"):
        return iso_ms(dt)
    # Luxon writes the offset as ±HH:MM, as isoformat does (never "Z" outside UTC).
    return dt.astimezone(zone).isoformat(timespec="milliseconds")


def parse_iso(value: object) -> datetime:
    """Parse an ISO-8601 date or date-time into an aware UTC datetime (no offset = UTC).

    Raises ValueError for anything else (the validators turn that into Cal.com's message).
    """
    if not isinstance(value, str) or not _ISO_RE.match(value.strip()):
        raise ValueError(f"not an ISO-8601 date string: {value!r}")
    text = value.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    # Python 3.11 accepts at most 6 fraction digits; JS accepts more and truncates.
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot > 7:
            text = text[: dot + 7] + text[end:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def is_bare_date(value: str) -> bool:
    return isinstance(value, str) and len(value.strip()) == 10


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError when unknown (Cal.com's IsTimeZone)."""
    if not isinstance(name, str) or not name or name != name.strip() or name.startswith("/"):
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def is_time_zone(name: object) -> TypeGuard[str]:
    if not isinstance(name, str):
        return False
    try:
        zone(name)
    except ValueError:
        return False
    return True


def normalise_for_match(value: object) -> str:
    """Compare fault-match values as strings after JSON normalisation (contracts §1.5).

    Date-times compare by instant (`…Z`, `….000Z` and `…+00:00` are equal); other scalars
    compare by their JSON text (`3` == `"3"` is deliberately true, so match bodies can be
    written either way).
    """
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 10 and _ISO_RE.match(text):
            try:
                return iso_ms(parse_iso(text))
            except ValueError:
                return value
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))
