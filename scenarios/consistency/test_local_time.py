"""Dates and times as callers say them, in Europe/Berlin winter and summer time and on the days
the clocks change: what the caller asked for, what the service understood, what Cal.com holds.

Every scenario here pins "now" on the shared virtual clock (never today's real date), so the
suite sees the same season whenever it runs, and runs in both seasons and on both change days
(last Sunday of March and of October). The expected instants are the harness's own reading of
the words (German as a receptionist hears it), converted with the IANA zone; the service's
answer (`requested.start`, the booking's start, the spoken message) must be exactly that —
told-matches-booked then holds the booking to it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from harness.slots import BERLIN, Slot
from harness.world import World

pytestmark = [pytest.mark.area("consistency"),
              pytest.mark.needs("check", "book", "clock")]

#: "Now" for each season: 07:00 local on the day named (UTC given, so no zone arithmetic here).
NOW = {
    "winter": datetime(2026, 1, 12, 6, 0, tzinfo=UTC),          # Monday, CET (UTC+1)
    "summer": datetime(2026, 7, 13, 5, 0, tzinfo=UTC),          # Monday, CEST (UTC+2)
    "spring-change": datetime(2026, 3, 29, 5, 0, tzinfo=UTC),   # Sunday 07:00 CEST, clocks went forward at 02:00
    "autumn-change": datetime(2026, 10, 25, 6, 0, tzinfo=UTC),  # Sunday 07:00 CET, clocks went back at 03:00
}
SEASONS = list(NOW)
MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
          "Oktober", "November", "Dezember")
WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def today(season: str) -> date:
    return NOW[season].astimezone(BERLIN).date()


def spoken_dates(season: str) -> list[tuple[str, date]]:
    """Dates as a caller says them, and the day each means (said on `season`'s today)."""
    d = today(season)
    tomorrow = d + timedelta(days=1)
    in_three = d + timedelta(days=3)
    monday_next_week = d - timedelta(days=d.weekday()) + timedelta(days=7)
    return [
        ("morgen", tomorrow),
        ("übermorgen", d + timedelta(days=2)),
        (WEEKDAYS[in_three.weekday()], in_three),
        (f"nächsten {WEEKDAYS[in_three.weekday()]}", in_three),
        (f"am {tomorrow.day}. {MONTHS[tomorrow.month - 1]}", tomorrow),
        (f"{tomorrow.day}.{tomorrow.month}.", tomorrow),
        (f"{tomorrow:%d.%m.%y}", tomorrow),
        (f"{tomorrow:%Y-%m-%d}", tomorrow),
        ("nächste Woche Mittwoch", monday_next_week + timedelta(days=2)),
    ]


#: Times as a caller says them, and the local time each means.
SPOKEN_TIMES: list[tuple[str, time]] = [
    ("halb elf", time(10, 30)),
    ("Viertel nach zehn", time(10, 15)),
    ("viertel vor elf", time(10, 45)),
    ("drei viertel elf", time(10, 45)),
    ("viertel elf", time(10, 15)),
    ("zehn vor halb elf", time(10, 20)),
    ("fünf nach halb elf", time(10, 35)),
    ("zwanzig vor elf", time(10, 40)),
    ("zehn Uhr", time(10, 0)),
    ("um 9", time(9, 0)),
    ("14 Uhr 30", time(14, 30)),
    ("drei Uhr nachmittags", time(15, 0)),
    ("halb acht abends", time(19, 30)),
    ("acht Uhr morgens", time(8, 0)),
    ("mittag", time(12, 0)),
    ("zwölf Uhr", time(12, 0)),
    ("halb eins", time(12, 30)),
    ("2:30", time(14, 30)),
    ("0:15", time(0, 15)),
    ("gegen 11", time(11, 0)),
]

#: Words the service must refuse, with the exact status a caller then hears.
NOT_UNDERSTOOD: list[tuple[dict[str, str], str]] = [
    ({"uhrzeit": "25 Uhr"}, "invalid_time"),
    ({"uhrzeit": "halb"}, "invalid_time"),
    ({"uhrzeit": "14:60"}, "invalid_time"),
    ({"uhrzeit": "vierzig vor drei"}, "invalid_time"),
    ({"uhrzeit": "irgendwann"}, "invalid_time"),
    ({"datum": "32.10.2026"}, "invalid_date"),
    ({"datum": "31.02."}, "invalid_date"),
    ({"datum": "bald"}, "invalid_date"),
    ({"datum": "2026-13-01"}, "invalid_date"),
]


def utc_z(day: date, at: time) -> str:
    local = datetime.combine(day, at, tzinfo=BERLIN)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def requested(answer: Any) -> str | None:
    body = answer.body if isinstance(answer.body, dict) else {}
    return (body.get("requested") or {}).get("start")


@pytest.mark.parametrize("season", SEASONS)
def test_spoken_dates_mean_the_day_a_receptionist_hears(world: World, season: str) -> None:
    world.freeze(NOW[season])
    wrong = []
    for words, day in spoken_dates(season):
        slot = Slot(datetime.combine(day, time(10, 0), tzinfo=BERLIN))
        answer = world.driver.check(slot, call_id=f"call_date_{season}",
                                    args={"datum": words, "uhrzeit": "10:00"})
        if requested(answer) != slot.start:
            wrong.append((words, slot.start, answer.status, requested(answer)))
    assert not wrong, f"said on {today(season)}: (words, meant, status, understood) {wrong}"


@pytest.mark.parametrize("season", SEASONS)
def test_spoken_times_mean_the_local_time_in_this_season(world: World, season: str) -> None:
    world.freeze(NOW[season])
    day = today(season) + timedelta(days=1)
    wrong = []
    for words, at in SPOKEN_TIMES:
        expected = utc_z(day, at)
        slot = Slot(datetime.combine(day, at, tzinfo=BERLIN))
        answer = world.driver.check(slot, call_id=f"call_time_{season}",
                                    args={"uhrzeit": words})
        body = answer.body if isinstance(answer.body, dict) else {}
        said = body.get("requested") or {}
        if requested(answer) != expected or said.get("uhrzeit") != f"{at:%H:%M}":
            wrong.append((words, expected, answer.status, said))
    assert not wrong, f"(words, meant, status, understood) {wrong}"


@pytest.mark.parametrize("season", SEASONS)
def test_a_booking_made_in_words_is_held_at_that_local_time(world: World, season: str) -> None:
    """Booked "morgen, halb elf": Cal.com holds 10:30 Berlin time of that day, in that
    season's offset, and the caller hears that date and time (told-matches-booked)."""
    world.freeze(NOW[season])
    day = today(season) + timedelta(days=1)
    slot = Slot(datetime.combine(day, time(10, 30), tzinfo=BERLIN))
    answer = world.driver.collect(slot, name="Greta Sommer", call_id=f"call_words_{season}",
                                  args={"datum": "morgen", "uhrzeit": "halb elf"})
    assert answer.status == "booked", answer.body
    assert answer.body["start"] == slot.start, answer.body
    assert f"{day:%d.%m.%Y} um 10:30 Uhr" in answer.body["message"], answer.body
    assert WEEKDAYS[day.weekday()] in answer.body["message"], answer.body
    (held,) = world.upstream(start=slot)
    assert held["attendees"][0]["name"] == "Greta Sommer"


@pytest.mark.parametrize("season", SEASONS)
def test_alternatives_are_spoken_in_local_time(world: World, season: str) -> None:
    """A taken slot's alternatives carry `datum`/`uhrzeit` that are their `start` in Berlin
    time of that season, and the message speaks those times."""
    world.freeze(NOW[season])
    day = today(season) + timedelta(days=1)
    slot = Slot(datetime.combine(day, time(11, 0), tzinfo=BERLIN))
    first = world.driver.collect(slot, name="Anna Erst", call_id=f"call_alt_a_{season}")
    assert first.status == "booked", first.body
    second = world.driver.collect(slot, name="Bernd Zweit", call_id=f"call_alt_b_{season}")
    assert second.status == "slot_taken", second.body
    alternatives = second.body["alternatives"]
    assert alternatives, second.body
    for alternative in alternatives:
        local = datetime.fromisoformat(alternative["start"].replace("Z", "+00:00")).astimezone(BERLIN)
        assert (alternative["datum"], alternative["uhrzeit"]) == (f"{local:%d.%m.%Y}",
                                                                  f"{local:%H:%M}"), alternative
        assert f"{local:%d.%m.%Y} um {local:%H:%M} Uhr" in second.body["message"], second.body
        assert alternative["start"] != slot.start


@pytest.mark.parametrize("season", ["winter", "summer"])
def test_words_not_understood_get_the_exact_refusal(world: World, season: str) -> None:
    world.freeze(NOW[season])
    day = today(season) + timedelta(days=1)
    slot = Slot(datetime.combine(day, time(10, 0), tzinfo=BERLIN))
    wrong = []
    for args, status in NOT_UNDERSTOOD:
        answer = world.driver.collect(slot, name="Paul Unklar", call_id=f"call_unclear_{season}",
                                      args=args)
        if answer.status != status or answer.body.get("success") is not False:
            wrong.append((args, status, answer.body))
    assert not wrong, wrong
    assert world.upstream() == []   # nothing was booked for words not understood
