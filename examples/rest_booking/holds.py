"""Holding a slot for the caller it was offered to (careful mode with `--hold`).

When a caller's availability check finds a slot free, the service reserves it at Cal.com
(`POST /v2/slots/reservations`) for that caller: Cal.com then hides it from everyone else's
free slots and refuses their creates for it (409 "Someone else reserved this booking time
slot…") until the reservation runs out on Cal.com's clock. The caller's own create names the
reservation (`reservedSlotUid`), which the booking consumes.

Which caller holds what is kept in memory, by (phone, event type, start), with the
reservation's uid and its `reservationUntil`: one process, as the slot lock (README's limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from examples.rest_booking.calcom import CalcomClient
from examples.rest_booking.settings import Clock

Key = tuple[str, int, datetime]  # (caller's phone, event type, start)


@dataclass(frozen=True)
class Hold:
    uid: str  # Cal.com's reservationUid
    until: datetime  # Cal.com's reservationUntil


#: What asking Cal.com for a hold came to: the hold, a definite no (the slot is booked or
#: someone else holds it), or no answer (the slot may still be free; it is not held).
Taken = Hold | Literal["refused", "unknown"]


def _instant(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


class Holds:
    def __init__(self, calcom: CalcomClient, clock: Clock) -> None:
        self.calcom = calcom
        self.clock = clock
        self._held: dict[Key, Hold] = {}

    def live(self, phone: str | None, event_type_id: int, start: datetime) -> Hold | None:
        """The caller's hold on this slot while it still runs (None: they hold none)."""
        if phone is None:
            return None
        hold = self._held.get((phone, event_type_id, start))
        return hold if hold is not None and hold.until > self.clock.now() else None

    async def take(self, phone: str, event_type_id: int, start: datetime) -> Taken:
        """Reserve the slot at Cal.com for this caller (their live hold if they have one)."""
        if (held := self.live(phone, event_type_id, start)) is not None:
            return held
        reply = await self.calcom.reserve(event_type_id, start)
        if reply.unknown:
            return "unknown"
        data = reply.data if reply.ok and isinstance(reply.data, dict) else {}
        uid, until = data.get("reservationUid"), _instant(data.get("reservationUntil"))
        if not reply.ok or not isinstance(uid, str) or until is None:
            return "refused"
        self._forget_lapsed()
        hold = self._held[(phone, event_type_id, start)] = Hold(uid, until)
        return hold

    def drop(self, phone: str, event_type_id: int, start: datetime) -> None:
        """The caller booked: their reservation is consumed."""
        self._held.pop((phone, event_type_id, start), None)

    def _forget_lapsed(self) -> None:
        now = self.clock.now()
        for key in [k for k, hold in self._held.items() if hold.until <= now]:
            del self._held[key]
