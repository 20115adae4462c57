"""Slot reservations (Cal.com's `SelectedSlots`): who holds which slot until when.

Indexed two ways, both dicts: by uid, and by (event type, start, end) — the key Cal.com's
booking path looks a reservation up by — so a create pays one dict lookup when nobody holds
its slot. A reservation holds while `release_at` is after the fake's clock; an expired one stays
until it is deleted, consumed or reset (Cal.com's row stays too), it just no longer holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

from fake_calcom.backend.models import Reservation

Key = tuple[int, datetime, datetime]

NOT_FIRST_IN_LINE = (
    "Someone else reserved this booking time slot before you. This time slot will be freed up in "
    "{seconds} seconds."
)


class ReservationBook:
    def __init__(self) -> None:
        self.by_uid: dict[str, Reservation] = {}
        self._by_key: dict[Key, list[Reservation]] = {}
        self._by_event_type: dict[int, dict[str, Reservation]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self.by_uid)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add(self, reservation: Reservation) -> None:
        self.by_uid[reservation.uid] = reservation
        self._by_key.setdefault(reservation.key, []).append(reservation)
        self._by_event_type.setdefault(reservation.event_type_id, {})[reservation.uid] = reservation

    def remove(self, uid: str) -> Reservation | None:
        reservation = self.by_uid.pop(uid, None)
        if reservation is None:
            return None
        entries = self._by_key.get(reservation.key)
        if entries is not None:
            entries[:] = [r for r in entries if r is not reservation]
            if not entries:
                del self._by_key[reservation.key]
        of_type = self._by_event_type.get(reservation.event_type_id)
        if of_type is not None:
            of_type.pop(uid, None)
            if not of_type:
                del self._by_event_type[reservation.event_type_id]
        return reservation

    def get(self, uid: str) -> Reservation | None:
        return self.by_uid.get(uid)

    def first_in_line(self, key: Key, now: datetime) -> Reservation | None:
        """The holding reservation of exactly this slot that books first (earliest release)."""
        entries = self._by_key.get(key)
        if not entries:
            return None
        holding = [r for r in entries if r.holds(now)]
        if not holding:
            return None
        return min(holding, key=lambda r: (r.release_at, r.seq))

    def at(self, key: Key) -> list[Reservation]:
        return list(self._by_key.get(key, ()))

    def holding(self, event_type_id: int, now: datetime) -> Iterator[Reservation]:
        """Reservations of this event type that hold their slot now."""
        for reservation in self._by_event_type.get(event_type_id, {}).values():
            if reservation.holds(now):
                yield reservation

    def overlapping(
        self, event_type_id: int, start: datetime, end: datetime, now: datetime, *, ignore_uid: str | None = None
    ) -> Reservation | None:
        for reservation in self.holding(event_type_id, now):
            if reservation.uid != ignore_uid and reservation.start < end and start < reservation.end:
                return reservation
        return None

    def all(self) -> list[Reservation]:
        return sorted(self.by_uid.values(), key=lambda r: r.seq)


def seconds_until(reservation: Reservation, now: datetime) -> int:
    return max(0, math.ceil((reservation.release_at - now).total_seconds()))
