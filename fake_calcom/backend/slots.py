"""Free slots: working hours (host time zone) minus busy time, stepped by the event length.

Slots start at the start of each working-hours rule and step by the event type's length
(contracts §1.2). Round robin offers a slot when any host is free; collective only when every
host works then and is free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

from fake_calcom.backend.models import EventType, Host
from fake_calcom.backend.timefmt import zone

Window = tuple[datetime, datetime]
# (host_id, from, to) -> the host's busy intervals overlapping [from, to)
BusyIntervals = Callable[[int, datetime, datetime], list[Window]]

MAX_RANGE_DAYS = 400  # a guard so one query cannot make the fake compute forever


class WorkingCalendar:
    """Each host's working windows per local day, as UTC instants (computed once, cached)."""

    def __init__(self, hosts: dict[int, Host]) -> None:
        self.hosts = hosts
        self._windows: dict[tuple[int, date], tuple[Window, ...]] = {}
        self._zones = {host_id: zone(host.time_zone) for host_id, host in hosts.items()}

    def windows(self, host: Host, day: date) -> tuple[Window, ...]:
        key = (host.id, day)
        cached = self._windows.get(key)
        if cached is None:
            weekday = day.weekday()
            cached = tuple(
                (_local_instant(day, rule.start_min, host), _local_instant(day, rule.end_min, host))
                for rule in host.working_hours
                if weekday in rule.days
            )
            if len(self._windows) > 200_000:  # bounded: a long benchmark must not grow it forever
                self._windows.clear()
            self._windows[key] = cached
        return cached

    def within_working_hours(self, host: Host, start: datetime, end: datetime) -> bool:
        """True when [start, end) lies inside one working-hours rule on one local day."""
        tz = self._zones.get(host.id) or zone(host.time_zone)
        for window_start, window_end in self.windows(host, start.astimezone(tz).date()):
            if window_start <= start and end <= window_end:
                return True
        return False

    def candidate_starts(self, host: Host, length: int, first: datetime, last: datetime) -> Iterator[datetime]:
        """Slot starts from the host's working hours with first <= start <= last (UTC)."""
        tz = zone(host.time_zone)
        step = timedelta(minutes=length)
        day = first.astimezone(tz).date() - timedelta(days=1)
        last_day = last.astimezone(tz).date() + timedelta(days=1)
        one_day = timedelta(days=1)
        while day <= last_day:
            for window_start, window_end in self.windows(host, day):
                start = window_start
                while start + step <= window_end:
                    if first <= start <= last:
                        yield start
                    start += step
            day += one_day


def _local_instant(day: date, minutes: int, host: Host) -> datetime:
    tz = zone(host.time_zone)
    if minutes >= 1440:
        day, minutes = day + timedelta(days=1), minutes - 1440
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
    return local.astimezone(UTC)


def within_working_hours(host: Host, start: datetime, end: datetime) -> bool:
    """Uncached convenience form of `WorkingCalendar.within_working_hours`."""
    return WorkingCalendar({host.id: host}).within_working_hours(host, start, end)


def free_slots(
    event_type: EventType,
    calendar: WorkingCalendar,
    first: datetime,
    last: datetime,
    now: datetime,
    busy_intervals: BusyIntervals,
    length: int | None = None,
) -> list[datetime]:
    """Sorted free slot starts for `event_type` between `first` and `last` (inclusive)."""
    length = length or event_type.length
    earliest = now + timedelta(minutes=event_type.minimum_notice)
    first = max(first, earliest)
    if first > last:
        return []
    duration = timedelta(minutes=length)
    members = [calendar.hosts[h] for h in event_type.host_ids if h in calendar.hosts]
    if not members:
        return []
    busy = {h.id: busy_intervals(h.id, first, last + duration) for h in members}

    def free(host_id: int, start: datetime, end: datetime) -> bool:
        return not any(b_start < end and start < b_end for b_start, b_end in busy[host_id])

    found: set[datetime] = set()
    if event_type.scheduling_type == "collective":
        lead, others = members[0], members[1:]
        for start in calendar.candidate_starts(lead, length, first, last):
            end = start + duration
            if all(calendar.within_working_hours(h, start, end) for h in others) and all(
                free(h.id, start, end) for h in members
            ):
                found.add(start)
    else:
        for host in members:
            intervals = busy[host.id]
            for start in calendar.candidate_starts(host, length, first, last):
                if start in found:
                    continue
                if not intervals or free(host.id, start, start + duration):
                    found.add(start)
    return sorted(found)
