"""German date and time understanding (what a voice agent passes on), Europe/Berlin → UTC."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking_service.german_datetime import (
    DateTimeParseError,
    format_datum,
    format_uhrzeit,
    german_number,
    local_to_utc,
    parse_date,
    parse_local_datetime,
    parse_time,
    spoken,
)

# Wednesday, 15 October 2025 (the week of the incidents).
TODAY = date(2025, 10, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16.10.2025", date(2025, 10, 16)),
        ("2025-10-16", date(2025, 10, 16)),
        ("16.10.25", date(2025, 10, 16)),
        ("16/10/2025", date(2025, 10, 16)),
        ("16.10.", date(2025, 10, 16)),
        ("3.1.", date(2026, 1, 3)),  # no year and already past this year: next year
        ("16. Oktober 2025", date(2025, 10, 16)),
        ("16. Oktober", date(2025, 10, 16)),
        ("am 3. Okt.", date(2026, 10, 3)),
        ("1. März", date(2026, 3, 1)),
        ("1. maerz 2026", date(2026, 3, 1)),
        ("heute", TODAY),
        ("Heute", TODAY),
        ("morgen", TODAY + timedelta(days=1)),
        ("übermorgen", TODAY + timedelta(days=2)),
        ("uebermorgen", TODAY + timedelta(days=2)),
        ("Übermorgen", TODAY + timedelta(days=2)),
        ("Donnerstag", date(2025, 10, 16)),
        ("Freitag", date(2025, 10, 17)),
        ("am Montag", date(2025, 10, 20)),
        ("nächsten Dienstag", date(2025, 10, 21)),
        ("Mittwoch", date(2025, 10, 22)),  # said on a Wednesday: next week's
        ("Sonnabend", date(2025, 10, 18)),
        ("Mittwoch nächste Woche", date(2025, 10, 22)),
        ("nächste Woche Freitag", date(2025, 10, 24)),
        ("Freitag, 17.10.2025", date(2025, 10, 17)),  # an explicit date wins
        ("  16.10.2025  ", date(2025, 10, 16)),
        ("29.2.", date(2028, 2, 29)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "gestern abend vielleicht",
        "32.10.2025",
        "29.02.2025",
        "2025-13-01",
        "bald",
        "Mondtag",
        "00.00.0000",
    ],
)
def test_dates_not_understood(text: str) -> None:
    with pytest.raises(DateTimeParseError) as info:
        parse_date(text, TODAY)
    assert info.value.kind == "invalid_date"


@pytest.mark.parametrize("value", [None, 16, 16.10, ["16.10.2025"], {"d": 1}])
def test_dates_of_the_wrong_type(value: object) -> None:
    with pytest.raises(DateTimeParseError):
        parse_date(value, TODAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14:00", time(14, 0)),
        ("14.30", time(14, 30)),
        ("14:30 Uhr", time(14, 30)),
        ("9:05", time(9, 5)),
        ("14 Uhr", time(14, 0)),
        ("14 Uhr 30", time(14, 30)),
        ("14h", time(14, 0)),
        ("um 9", time(9, 0)),
        ("vierzehn Uhr", time(14, 0)),
        ("vierzehn Uhr dreißig", time(14, 30)),
        ("Vierzehn Uhr fünfundvierzig", time(14, 45)),
        ("zehn Uhr", time(10, 0)),
        ("drei Uhr", time(15, 0)),  # business hours: 3 o'clock is the afternoon
        ("halb drei", time(14, 30)),
        ("Halb Drei", time(14, 30)),
        ("halb zehn", time(9, 30)),
        ("halb eins", time(12, 30)),
        ("Viertel vor drei", time(14, 45)),
        ("viertel vor zwölf", time(11, 45)),
        ("Viertel nach zehn", time(10, 15)),
        ("viertel nach zwei", time(14, 15)),
        ("drei viertel drei", time(14, 45)),
        ("dreiviertel zehn", time(9, 45)),
        ("viertel drei", time(14, 15)),
        ("zehn vor halb drei", time(14, 20)),
        ("fünf nach halb drei", time(14, 35)),
        ("zehn nach drei", time(15, 10)),
        ("zwanzig vor elf", time(10, 40)),
        ("drei Uhr nachmittags", time(15, 0)),
        ("halb acht abends", time(19, 30)),
        ("acht Uhr morgens", time(8, 0)),
        ("zwölf Uhr", time(12, 0)),
        ("mittag", time(12, 0)),
        ("2:30", time(14, 30)),  # spoken-style digits in business hours
        ("02:30", time(2, 30)),  # a leading zero is meant literally
        ("um ca. 15 Uhr", time(15, 0)),
        ("gegen 11", time(11, 0)),
        ("0:15", time(0, 15)),
    ],
)
def test_times(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "irgendwann",
        "25:00",
        "14:60",
        "halb",
        "viertel vor",
        "halb dreißig",
        "99 Uhr",
        "vierzig vor drei",
        "14:5",
    ],
)
def test_times_not_understood(text: str) -> None:
    with pytest.raises(DateTimeParseError) as info:
        parse_time(text)
    assert info.value.kind == "invalid_time"


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("null", 0),
        ("eins", 1),
        ("zwölf", None),
        ("zwoelf", 12),
        ("siebzehn", 17),
        ("einundzwanzig", 21),
        ("fuenfundfuenfzig", 55),
        ("60", None),
        ("drölf", None),
    ],
)
def test_german_numbers(word: str, value: int | None) -> None:
    # german_number sees normalised text (umlauts spelled out), so "zwölf" itself is unknown.
    assert german_number(word) == value


@given(st.integers(0, 23), st.integers(0, 59))
def test_every_clock_time_round_trips(hour: int, minute: int) -> None:
    assert parse_time(f"{hour:02d}:{minute:02d}") == time(hour, minute)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_every_date_round_trips_in_both_formats(day: date) -> None:
    assert parse_date(day.strftime("%d.%m.%Y"), TODAY) == day
    assert parse_date(day.isoformat(), TODAY) == day


@given(st.text(max_size=40))
def test_garbage_is_a_parse_error_never_a_crash(text: str) -> None:
    for parse in (lambda: parse_date(text, TODAY), lambda: parse_time(text)):
        with contextlib.suppress(DateTimeParseError):
            parse()


def test_berlin_summer_time_to_utc() -> None:
    assert local_to_utc(date(2025, 10, 16), time(14, 0)) == datetime(
        2025, 10, 16, 12, 0, tzinfo=UTC
    )


def test_berlin_winter_time_to_utc() -> None:
    assert local_to_utc(date(2025, 11, 3), time(14, 0)) == datetime(2025, 11, 3, 13, 0, tzinfo=UTC)


def test_spring_forward_gap_is_an_invalid_time() -> None:
    with pytest.raises(DateTimeParseError) as info:
        local_to_utc(date(2026, 3, 29), time(2, 30))
    assert info.value.kind == "invalid_time"


def test_autumn_fold_takes_the_first_occurrence() -> None:
    # 02:30 happens twice on 26 Oct 2025; the first one is still summer time (UTC+2).
    assert local_to_utc(date(2025, 10, 26), time(2, 30)) == datetime(
        2025, 10, 26, 0, 30, tzinfo=UTC
    )


def test_today_comes_from_the_injected_now_in_berlin() -> None:
    # 23:30 UTC on the 15th is already the 16th in Berlin: "morgen" is the 17th.
    now = datetime(2025, 10, 15, 23, 30, tzinfo=UTC)
    assert parse_local_datetime("morgen", "10:00", now) == datetime(2025, 10, 17, 8, 0, tzinfo=UTC)


def test_formatting_for_callers() -> None:
    instant = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)
    assert format_datum(instant) == "20.10.2025"
    assert format_uhrzeit(instant) == "14:00"
    assert spoken(instant) == "Montag, 20.10.2025 um 14:00 Uhr"
