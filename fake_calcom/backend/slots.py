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

BusyCheck = Callable[[int, datetime, datetime], bool]  # (host_id, start, end) -> busy?

MAX_RANGE_DAYS = 400  # a guard so one query cannot make the fake compute forever


def _local_instant(day: date, minutes: int, host: Host) -> datetime:
    tz = zone(host.time_zone)
    if minutes >= 1440:
        day, minutes = day + timedelta(days=1), minutes - 1440
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
    return local.astimezone(UTC)


def within_working_hours(host: Host, start: datetime, end: datetime) -> bool:
    """True when [start, end) lies inside one working-hours rule on one local day."""
    tz = zone(host.time_zone)
    local_start = start.astimezone(tz)
    day = local_start.date()
    for rule in host.working_hours:
        if local_start.weekday() not in rule.days:
            continue
        window_start = _local_instant(day, rule.start_min, host)
        window_end = _local_instant(day, rule.end_min, host)
        if window_start <= start and end <= window_end:
            return True
    return False


def candidate_starts(host: Host, length: int, first: datetime, last: datetime) -> Iterator[datetime]:
    """Slot starts from the host's working hours with first <= start <= last (UTC)."""
    tz = zone(host.time_zone)
    step = timedelta(minutes=length)
    day = first.astimezone(tz).date() - timedelta(days=1)
    last_day = last.astimezone(tz).date() + timedelta(days=1)
    while day <= last_day:
        weekday = day.weekday()
        for rule in host.working_hours:
            if weekday not in rule.days:
                continue
            window_end = _local_instant(day, rule.end_min, host)
            start = _local_instant(day, rule.start_min, host)
            while start + step <= window_end:
                if first <= start <= last:
                    yield start
                start += step
        day += timedelta(days=1)


def free_slots(
    event_type: EventType,
    hosts: dict[int, Host],
    first: datetime,
    last: datetime,
    now: datetime,
    is_busy: BusyCheck,
    length: int | None = None,
) -> list[datetime]:
    """Sorted free slot starts for `event_type` between `first` and `last` (inclusive)."""
    length = length or event_type.length
    earliest = now + timedelta(minutes=event_type.minimum_notice)
    first = max(first, earliest)
    if first > last:
        return []
    duration = timedelta(minutes=length)
    members = [hosts[h] for h in event_type.host_ids if h in hosts]
    if not members:
        return []
    found: set[datetime] = set()
    if event_type.scheduling_type == "collective":
        lead, others = members[0], members[1:]
        for start in candidate_starts(lead, length, first, last):
            end = start + duration
            if all(within_working_hours(h, start, end) for h in others) and not any(
                is_busy(h.id, start, end) for h in members
            ):
                found.add(start)
    else:
        for host in members:
            for start in candidate_starts(host, length, first, last):
                if start not in found and not is_busy(host.id, start, start + duration):
                    found.add(start)
    return sorted(found)
