"""Slots as callers name them (German date and time in Europe/Berlin) and as Cal.com does (UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class Slot:
    """One bookable start: what the caller says (`datum`, `uhrzeit`) and the UTC instant."""

    local: datetime  # aware, Europe/Berlin

    @property
    def datum(self) -> str:
        return self.local.strftime("%d.%m.%Y")

    @property
    def uhrzeit(self) -> str:
        return self.local.strftime("%H:%M")

    @property
    def start(self) -> str:
        """UTC ISO-8601 with `Z`, the form Cal.com and the service use."""
        return self.local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def start_dt(self) -> datetime:
        return self.local.astimezone(ZoneInfo("UTC"))

    def plus(self, minutes: int) -> Slot:
        return Slot((self.local + timedelta(minutes=minutes)).astimezone(BERLIN))

    def __str__(self) -> str:
        return f"{self.datum} {self.uhrzeit} ({self.start})"


def parse_z(text: str) -> datetime:
    """An ISO-8601 instant as Cal.com and the service write it (`…Z` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def next_workday(today: date, days_ahead: int = 1) -> date:
    """The `days_ahead`-th Monday–Friday after `today` (seed hosts work Mon–Fri)."""
    day = today
    remaining = days_ahead
    while remaining > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


def slot_on(day: date, hour: int, minute: int = 0) -> Slot:
    return Slot(datetime.combine(day, time(hour, minute), tzinfo=BERLIN))


def workday_slot(now: datetime, days_ahead: int = 1, hour: int = 10, minute: int = 0) -> Slot:
    """A slot `days_ahead` working days after `now`'s Berlin date, at `hour:minute` Berlin time."""
    return slot_on(next_workday(now.astimezone(BERLIN).date(), days_ahead), hour, minute)
