"""German date and time understanding for what a voice agent hears and passes on.

Dates: `16.10.2025`, `16.10.25`, `16.10.`, `2025-10-16`, `16. Oktober 2025`, `heute`, `morgen`,
`übermorgen`, weekdays (`Mittwoch` = the next Wednesday after today, `Mittwoch nächste Woche`).
Times: `14:00`, `14.30`, `14 Uhr`, `14 Uhr 30`, `vierzehn Uhr dreißig`, `halb drei`,
`Viertel vor drei`, `Viertel nach zehn`, `drei viertel drei`, `zehn vor halb drei`, with optional
`morgens`/`vormittags`/`nachmittags`/`abends`.

Spoken twelve-hour times are read in business hours: an hour from 1 to 6 without a qualifier
means the afternoon (`halb drei` → 14:30, `drei Uhr` → 15:00); `02:30` written with a leading
zero stays literal. Local times are Europe/Berlin and converted to UTC for Cal.com; a local time
that does not exist (the spring-forward gap) is an invalid time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

ParseErrorKind = Literal["invalid_date", "invalid_time"]

#: Hours 1..(BUSINESS_START_HOUR - 1) spoken without a qualifier are read as afternoon hours.
BUSINESS_START_HOUR = 7


class DateTimeParseError(ValueError):
    """The text is not a date (`invalid_date`) or not a time (`invalid_time`) we understand."""

    def __init__(self, kind: ParseErrorKind, text: object) -> None:
        super().__init__(f"{kind}: {text!r}")
        self.kind: ParseErrorKind = kind
        self.text = text


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def normalize(text: str) -> str:
    """Lower case, umlauts spelled out, punctuation other than `.`/`:`/`-`/`/` turned to spaces."""
    s = text.strip().lower().translate(_UMLAUTS)
    s = re.sub(r"[,;!?()\"']", " ", s)
    return re.sub(r"\s+", " ", s).strip()


# --- numbers -------------------------------------------------------------------------------

_UNITS = {
    "null": 0,
    "ein": 1,
    "eins": 1,
    "eine": 1,
    "zwei": 2,
    "zwo": 2,
    "drei": 3,
    "vier": 4,
    "fuenf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
}
_TEENS = {
    "zehn": 10,
    "elf": 11,
    "zwoelf": 12,
    "dreizehn": 13,
    "vierzehn": 14,
    "fuenfzehn": 15,
    "sechzehn": 16,
    "siebzehn": 17,
    "achtzehn": 18,
    "neunzehn": 19,
}
_TENS = {"zwanzig": 20, "dreissig": 30, "vierzig": 40, "fuenfzig": 50}
_COMPOUND = re.compile(
    r"(ein|zwei|drei|vier|fuenf|sechs|sieben|acht|neun)und(zwanzig|dreissig|vierzig|fuenfzig)"
)


def german_number(token: str) -> int | None:
    """0..59 from digits or a German number word (`vierzehn`, `fünfundvierzig`); else None."""
    if token.isdigit():
        return int(token) if len(token) <= 2 and int(token) <= 59 else None
    if token in _UNITS:
        return _UNITS[token]
    if token in _TEENS:
        return _TEENS[token]
    if token in _TENS:
        return _TENS[token]
    m = _COMPOUND.fullmatch(token)
    if m:
        return _UNITS[m.group(1)] + _TENS[m.group(2)]
    return None


# --- dates ---------------------------------------------------------------------------------

_MONTHS = {
    "januar": 1,
    "jan": 1,
    "jaenner": 1,
    "februar": 2,
    "feb": 2,
    "maerz": 3,
    "mrz": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "dez": 12,
}
_WEEKDAYS = {
    "montag": 0,
    "dienstag": 1,
    "mittwoch": 2,
    "donnerstag": 3,
    "freitag": 4,
    "samstag": 5,
    "sonnabend": 5,
    "sonntag": 6,
}
_RELATIVE_DAYS = {"heute": 0, "morgen": 1, "uebermorgen": 2}
_DATE_FILLERS = {
    "am",
    "den",
    "dem",
    "der",
    "diesen",
    "diese",
    "dieser",
    "naechsten",
    "naechste",
    "naechster",
    "kommenden",
    "kommende",
    "kommender",
    "bitte",
    "termin",
    "fuer",
    "an",
    "also",
}

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_NUMERIC_DATE = re.compile(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2})?)?\.?")
_MONTH_NAME_DATE = re.compile(r"(\d{1,2})\.? ?([a-z]+)\.?(?: (\d{4}))?")


def _build_date(year: int, month: int, day: int, text: object) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateTimeParseError("invalid_date", text) from exc


def _without_year(month: int, day: int, today: date, text: object) -> date:
    """A day and month without a year: this year, or next year if that day has passed."""
    candidate = _build_date(today.year, month, day, text) if (month, day) != (2, 29) else None
    if candidate is None:  # 29 February: the next leap year from today
        year = today.year
        while True:
            try:
                candidate = date(year, 2, 29)
            except ValueError:
                year += 1
                continue
            if candidate >= today:
                return candidate
            year += 1
    if candidate < today:
        return _build_date(today.year + 1, month, day, text)
    return candidate


def parse_date(text: object, today: date) -> date:
    """The calendar date a caller means, relative to `today` (a date in Europe/Berlin)."""
    if not isinstance(text, str) or not text.strip():
        raise DateTimeParseError("invalid_date", text)
    s = normalize(text)

    # An explicit date anywhere wins ("Mittwoch, 16.10.2025" → 16.10.2025).
    for token in s.split(" "):
        m = _ISO_DATE.fullmatch(token)
        if m:
            return _build_date(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)
    for token in s.split(" "):
        m = _NUMERIC_DATE.fullmatch(token)
        if m and ("." in token or "/" in token):
            day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
            if year is None:
                return _without_year(month, day, today, text)
            full_year = int(year) + 2000 if len(year) == 2 else int(year)
            return _build_date(full_year, month, day, text)

    next_week = False
    for marker in (
        "in der naechsten woche",
        "naechste woche",
        "in der kommenden woche",
        "kommende woche",
    ):
        if marker in s:
            next_week, s = True, s.replace(marker, " ")
    words = [w.strip(".") for w in s.split(" ") if w.strip(".") not in _DATE_FILLERS]
    phrase = " ".join(w for w in words if w)
    m = _MONTH_NAME_DATE.fullmatch(phrase)
    if m and m.group(2) in _MONTHS:
        month, day = _MONTHS[m.group(2)], int(m.group(1))
        if m.group(3):
            return _build_date(int(m.group(3)), month, day, text)
        return _without_year(month, day, today, text)

    if phrase in _RELATIVE_DAYS and not next_week:
        return today + timedelta(days=_RELATIVE_DAYS[phrase])

    if phrase in _WEEKDAYS:
        weekday = _WEEKDAYS[phrase]
        if next_week:
            monday_next_week = today - timedelta(days=today.weekday()) + timedelta(days=7)
            return monday_next_week + timedelta(days=weekday)
        ahead = (weekday - today.weekday()) % 7
        return today + timedelta(days=ahead or 7)

    raise DateTimeParseError("invalid_date", text)


# --- times ---------------------------------------------------------------------------------

_AM_WORDS = (
    "am morgen",
    "am vormittag",
    "in der frueh",
    "morgens",
    "frueh",
    "vormittags",
    "nachts",
)
_PM_WORDS = ("am nachmittag", "am abend", "nachmittags", "abends", "mittags")
_TIME_FILLERS = {
    "um",
    "gegen",
    "so",
    "ca",
    "ca.",
    "circa",
    "zirka",
    "etwa",
    "ungefaehr",
    "bitte",
    "genau",
}
_NUM = r"(\d{1,2}|[a-z]+)"

_DIGITAL = re.compile(r"(\d{1,2})[:.](\d{2})(?: ?uhr)?")
_HOUR_UHR = re.compile(rf"{_NUM} ?(?:uhr|h)(?: {_NUM})?")
_HALB = re.compile(rf"halb {_NUM}")
_VIERTEL_VOR_NACH = re.compile(rf"viertel (vor|nach) {_NUM}")
_DREIVIERTEL = re.compile(rf"drei ?viertel {_NUM}")
_VIERTEL = re.compile(rf"viertel {_NUM}")
_MIN_HALB = re.compile(rf"{_NUM}(?: minuten?)? (vor|nach) halb {_NUM}")
_MIN_VOR_NACH = re.compile(rf"{_NUM}(?: minuten?)? (vor|nach) {_NUM}")
_BARE = re.compile(_NUM)


def _hour(token: str, text: object) -> int:
    value = german_number(token)
    if value is None or value > 24:
        raise DateTimeParseError("invalid_time", text)
    return value


def _minute(token: str, text: object) -> int:
    value = german_number(token)
    if value is None or value > 59:
        raise DateTimeParseError("invalid_time", text)
    return value


def _finish(hour: int, minute: int, twelve_hour: bool, qualifier: str | None, text: object) -> time:
    """Apply `nachmittags`/`morgens` and the business-hours reading, then validate."""
    if hour == 24 and minute == 0:
        hour = 0
    if qualifier == "pm" and 0 <= hour < 12:
        hour += 12
    elif qualifier == "am" and hour == 12 and twelve_hour:
        hour = 0  # "zwölf Uhr nachts"
    elif qualifier is None and twelve_hour:
        if hour == 0:
            hour = 12  # "halb eins" means 12:30, not half past midnight
        elif 1 <= hour < BUSINESS_START_HOUR:
            hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise DateTimeParseError("invalid_time", text)
    return time(hour, minute)


def parse_time(text: object) -> time:
    """The clock time a caller means (local time, no date)."""
    if not isinstance(text, str) or not text.strip():
        raise DateTimeParseError("invalid_time", text)
    s = normalize(text)
    qualifier: str | None = None
    for word in _AM_WORDS:
        if word in s:
            qualifier, s = "am", s.replace(word, " ")
            break
    else:
        for word in _PM_WORDS:
            if word in s:
                qualifier, s = "pm", s.replace(word, " ")
                break
    s = " ".join(w for w in s.split() if w not in _TIME_FILLERS)
    if s in {"mittag", "zwoelf uhr mittags"}:
        return time(12, 0)
    if not s:
        raise DateTimeParseError("invalid_time", text)

    m = _DIGITAL.fullmatch(s)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        leading_zero = m.group(1).startswith("0") and len(m.group(1)) == 2
        return _finish(hour, minute, 1 <= hour <= 12 and not leading_zero, qualifier, text)
    m = _HOUR_UHR.fullmatch(s)
    if m:
        hour = _hour(m.group(1), text)
        minute = _minute(m.group(2), text) if m.group(2) else 0
        leading_zero = m.group(1).startswith("0") and len(m.group(1)) == 2
        return _finish(hour, minute, 1 <= hour <= 12 and not leading_zero, qualifier, text)
    m = _HALB.fullmatch(s)
    if m:
        return _finish(_hour(m.group(1), text) - 1, 30, True, qualifier, text)
    m = _VIERTEL_VOR_NACH.fullmatch(s)
    if m:
        hour = _hour(m.group(2), text)
        if m.group(1) == "vor":
            return _finish(hour - 1, 45, True, qualifier, text)
        return _finish(hour, 15, True, qualifier, text)
    m = _DREIVIERTEL.fullmatch(s)
    if m:
        return _finish(_hour(m.group(1), text) - 1, 45, True, qualifier, text)
    m = _VIERTEL.fullmatch(s)
    if m:
        return _finish(_hour(m.group(1), text) - 1, 15, True, qualifier, text)
    m = _MIN_HALB.fullmatch(s)
    if m:
        minutes, direction, hour = _minute(m.group(1), text), m.group(2), _hour(m.group(3), text)
        if minutes >= 30:
            raise DateTimeParseError("invalid_time", text)
        return _finish(
            hour - 1, 30 - minutes if direction == "vor" else 30 + minutes, True, qualifier, text
        )
    m = _MIN_VOR_NACH.fullmatch(s)
    if m:
        minutes, direction, hour = _minute(m.group(1), text), m.group(2), _hour(m.group(3), text)
        if minutes == 0 or minutes >= 30:
            raise DateTimeParseError("invalid_time", text)
        if direction == "vor":
            return _finish(hour - 1, 60 - minutes, True, qualifier, text)
        return _finish(hour, minutes, True, qualifier, text)
    m = _BARE.fullmatch(s)
    if m:
        hour = _hour(m.group(1), text)
        leading_zero = m.group(1).startswith("0") and len(m.group(1)) == 2
        return _finish(hour, 0, 1 <= hour <= 12 and not leading_zero, qualifier, text)
    raise DateTimeParseError("invalid_time", text)


# --- time zones ----------------------------------------------------------------------------


def local_to_utc(day: date, clock_time: time, zone: str | ZoneInfo = "Europe/Berlin") -> datetime:
    """The UTC instant of a local wall-clock time; a time in the spring-forward gap is invalid.

    In the autumn fold (a wall time that happens twice) the first occurrence is meant.
    """
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    local = datetime.combine(day, clock_time, tzinfo=tz)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise DateTimeParseError("invalid_time", f"{day.isoformat()} {clock_time.isoformat()}")
    return utc


def parse_local_datetime(
    datum: object, uhrzeit: object, now: datetime, zone: str = "Europe/Berlin"
) -> datetime:
    """`datum` + `uhrzeit` as spoken, relative to `now` (aware), as an aware UTC datetime."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    return local_to_utc(parse_date(datum, today), parse_time(uhrzeit), tz)


_WEEKDAY_NAMES = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def format_datum(instant: datetime, zone: str = "Europe/Berlin") -> str:
    """`20.10.2025` in local time."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%d.%m.%Y")


def format_uhrzeit(instant: datetime, zone: str = "Europe/Berlin") -> str:
    """`14:00` in local time."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def spoken(instant: datetime, zone: str = "Europe/Berlin") -> str:
    """`Montag, 20.10.2025 um 14:00 Uhr`, for German caller-facing messages."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{_WEEKDAY_NAMES[local.weekday()]}, {local:%d.%m.%Y} um {local:%H:%M} Uhr"
