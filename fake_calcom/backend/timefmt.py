"""Time formats Cal.com speaks: JS `toISOString()` (ms, `Z`) and luxon ISO with an offset."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # date
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2})?)?$"
)


def iso_ms(dt: datetime) -> str:
    """`2025-10-10T08:00:00.000Z`, the shape of JavaScript's `Date.toISOString()`."""
    dt = dt.astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def iso_seconds(dt: datetime) -> str:
    """`2025-10-10T08:00:00Z` (webhook startTime/endTime: dayjs `format()` in UTC)."""
    return f"{dt.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def iso_in_zone(dt: datetime, zone: ZoneInfo | None) -> str:
    """Luxon's `toISO()`: `2050-09-05T09:00:00.000+02:00`; plain `…Z` for UTC."""
    if zone is None:
        return iso_ms(dt)
    local = dt.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    if offset == timedelta(0) and zone.key in ("UTC", "Etc/UTC"):
        return iso_ms(dt)
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return (
        f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}"
        f"{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"
    )


def parse_iso(value: str) -> datetime:
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
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
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


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: object) -> bool:
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
