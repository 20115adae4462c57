"""Who is busy when: each host's active bookings per UTC day, sorted by start.

An overlap query looks only at bookings starting in (start - longest booking, end), found by
bisection, so a busy day with many bookings costs the same as an empty one.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from operator import attrgetter

from fake_calcom.backend.models import Booking


def utc_days(start: datetime, end: datetime) -> tuple[date, ...]:
    """The UTC dates [start, end) touches (almost always just one)."""
    day = start.date()
    last = (end - timedelta(microseconds=1)).date() if end > start else day
    if last == day:
        return (day,)
    days = []
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return tuple(days)


_start_of: Callable[[Booking], datetime] = attrgetter("start")  # C-level, for bisect's key


class BusyIndex:
    def __init__(self) -> None:
        self._days: dict[tuple[int, date], list[Booking]] = {}
        self._longest = timedelta(0)

    def add(self, host_id: int, booking: Booking) -> None:
        self._longest = max(self._longest, booking.end - booking.start)
        for day in utc_days(booking.start, booking.end):
            entries = self._days.setdefault((host_id, day), [])
            bisect.insort(entries, booking, key=_start_of)

    def remove(self, host_id: int, booking: Booking) -> None:
        for day in utc_days(booking.start, booking.end):
            entries = self._days.get((host_id, day))
            if not entries:
                continue
            index = bisect.bisect_left(entries, booking.start, key=_start_of)
            while index < len(entries) and entries[index].start == booking.start:
                if entries[index] is booking:
                    del entries[index]
                    break
                index += 1

    def any_overlapping(self, host_id: int, start: datetime, end: datetime, ignore_uid: str | None) -> bool:
        """Whether a booking other than `ignore_uid` overlaps [start, end) (the create's check:
        no generator, and one dict lookup for a day the host has nothing on)."""
        day = start.date()
        if day != end.date():
            return any(b.uid != ignore_uid for b in self.overlapping(host_id, start, end))
        entries = self._days.get((host_id, day))  # the usual booking: within one UTC day
        if not entries:
            return False
        index = bisect.bisect_right(entries, start - self._longest, key=_start_of)
        stop = bisect.bisect_left(entries, end, lo=index, key=_start_of)
        for position in range(index, stop):
            booking = entries[position]
            if start < booking.end and booking.uid != ignore_uid:
                return True
        return False

    def overlapping(self, host_id: int, start: datetime, end: datetime) -> Iterator[Booking]:
        """The host's indexed bookings overlapping [start, end)."""
        earliest = start - self._longest
        for day in utc_days(start, end):
            entries = self._days.get((host_id, day))
            if not entries:
                continue
            index = bisect.bisect_right(entries, earliest, key=_start_of)
            stop = bisect.bisect_left(entries, end, key=_start_of)
            for booking in entries[index:stop]:
                if start < booking.end:
                    yield booking
