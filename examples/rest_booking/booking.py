"""Turning a caller's booking request into a Cal.com booking and a row: the two modes.

`NaiveBooker` is the integration people write first; every shortcut it takes is one of the
three failures calharness looks for. `CarefulBooker` is the same service done right.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from examples.rest_booking.calcom import CalcomClient, Reply
from examples.rest_booking.holds import Holds
from examples.rest_booking.settings import Clock
from examples.rest_booking.store import NewBooking, Store, host_of

#: How far Cal.com's clock may be behind ours when judging a booking's createdAt.
CLOCK_SKEW = timedelta(seconds=1)
CANCEL_REASON = "Cancelled by the customer"


@dataclass(frozen=True)
class BookingRequest:
    service: str
    event_type_id: int
    start: datetime
    name: str
    phone: str
    email: str | None
    request_id: str | None
    time_zone: str

    def attendee(self) -> dict[str, str]:
        attendee = {"name": self.name, "phoneNumber": self.phone, "timeZone": self.time_zone}
        if self.email:
            attendee["email"] = self.email
        return attendee


@dataclass(frozen=True)
class Booked:
    booking: dict[str, Any]  # the service's row
    replayed: bool = False  # an earlier request with the same request_id made it


@dataclass(frozen=True)
class NotBooked:
    """Definitely no booking: the caller may pick another time."""

    error: str  # slot_taken | rate_limited | booking_failed
    reason: str
    message: str


@dataclass(frozen=True)
class Unconfirmed:
    """Cal.com may hold a booking we could not find: the caller must be called back."""

    reason: str


Outcome = Booked | NotBooked | Unconfirmed


def _end(booking: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(booking["end"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def _start(booking: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(booking["start"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


class Booker:
    def __init__(self, calcom: CalcomClient, store: Store, clock: Clock, attempts: int,
                 holds: Holds | None = None) -> None:
        self.calcom = calcom
        self.store = store
        self.clock = clock
        self.attempts = attempts
        #: careful mode with --hold: the slots held at Cal.com for the callers offered them
        self.holds = holds

    @contextlib.asynccontextmanager
    async def slot_lock(self, event_type_id: int, start: datetime) -> AsyncIterator[None]:
        yield  # naive: no lock

    async def may_take(self, event_type_id: int, start: datetime,
                       reservation_uid: str | None = None) -> NotBooked | None:
        """Why the slot cannot be taken (None: try it). Naive: Cal.com will tell."""
        return None

    async def book(self, request: BookingRequest) -> Outcome:
        raise NotImplementedError

    async def cancel(self, uid: str) -> Reply:
        """Cancel booking `uid` in Cal.com. Naive: one request, its answer as it came."""
        return await self.calcom.cancel(uid, CANCEL_REASON)

    async def reschedule(self, uid: str, start: datetime) -> Reply:
        """Move booking `uid` to `start` (Cal.com answers with the new booking). Naive: one
        request, its answer as it came."""
        return await self.calcom.reschedule(uid, start)

    async def _record(self, request: BookingRequest, booking: dict[str, Any]) -> Booked:
        start = _start(booking) or request.start
        row = await self.store.insert(NewBooking(
            request.service, request.event_type_id, start, _end(booking), host_of(booking),
            request.name, request.phone, request.email, str(booking.get("uid")),
            request.request_id),
            self.clock.now())
        return Booked(row)


def _refusal(reply: Reply) -> NotBooked:
    if reply.slot_taken:
        return NotBooked("slot_taken", "calcom_busy", "That time is no longer free.")
    if reply.status == 429:  # a definite no: Cal.com refuses before it books anything
        return NotBooked("rate_limited", "calcom_rate_limited", "Cal.com is busy; try again soon.")
    return NotBooked("booking_failed", f"calcom_{reply.status}", reply.message or "Cal.com said no")


class NaiveBooker(Booker):
    """Send the create; on no answer or a 5xx send it again; believe whatever comes back."""

    async def book(self, request: BookingRequest) -> Outcome:
        last = Reply(None)
        for _ in range(self.attempts):
            last = await self.calcom.create(request.event_type_id, request.start,
                                            request.attendee())
            if last.ok:
                return await self._record(request, last.data)
            if not last.unknown:
                return _refusal(last)
        # Cal.com may well have booked it: the caller is told it failed anyway.
        return NotBooked("booking_failed", "calcom_unavailable",
                         f"Cal.com did not answer ({last.message or last.status}).")


#: Cal.com's statuses of a booking that still holds its slot.
ACTIVE = ("accepted", "pending")


def _digits(phone: object) -> str:
    return re.sub(r"\D", "", phone) if isinstance(phone, str) else ""


def _same_name(a: object, b: object) -> bool:
    """The same name, case and spacing aside."""
    return isinstance(a, str) and isinstance(b, str) and a.casefold().split() == b.casefold().split()


class CarefulBooker(Booker):
    """One lock per slot, availability checked again under it, an idempotency key per request,
    a look-up instead of a blind resend, and no booking accepted that is not the caller's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # one small lock per slot ever asked for: plenty for an example, not for years of uptime
        self._locks: defaultdict[tuple[int, datetime], asyncio.Lock] = defaultdict(asyncio.Lock)

    @contextlib.asynccontextmanager
    async def slot_lock(self, event_type_id: int, start: datetime) -> AsyncIterator[None]:
        # in-process only: one instance of the service per database (see README)
        async with self._locks[(event_type_id, start)]:
            yield

    async def book(self, request: BookingRequest) -> Outcome:
        if request.request_id and (earlier := await self.store.by_request(request.request_id)):
            return Booked(earlier, replayed=True)
        async with self.slot_lock(request.event_type_id, request.start):
            # the same caller asking again (a client's retry) gets the booking they hold; a
            # phone alone is not a caller: two people may call from one landline
            for held in await self.store.confirmed_at(request.event_type_id, request.start):
                if held["phone"] == request.phone and _same_name(held["name"], request.name):
                    return Booked(held, replayed=True)
            # the slot this caller was offered and holds at Cal.com (--hold): theirs to book
            hold = self.holds.live(request.phone, request.event_type_id, request.start) \
                if self.holds is not None else None
            reserved = hold.uid if hold is not None else None
            refusal = await self.may_take(request.event_type_id, request.start, reserved)
            if refusal is not None:
                return refusal
            outcome = await self._create(request, reserved)
            if isinstance(outcome, Booked) and self.holds is not None:
                self.holds.drop(request.phone, request.event_type_id, request.start)
            return outcome

    async def may_take(self, event_type_id: int, start: datetime,
                       reservation_uid: str | None = None) -> NotBooked | None:
        """Cal.com's free slots, read again under the slot's lock (so after any create for
        it has finished). They know the hosts: a round-robin slot stays free while one is.
        A slot someone else holds is not free; the caller's own (`reservation_uid`) is.
        When they cannot be read, Cal.com's own check on the create still stands."""
        free = await self.calcom.free_starts(event_type_id, start.date(),
                                             reservation_uid=reservation_uid)
        if free is not None and start not in free:
            return NotBooked("slot_taken", "calcom_not_free", "That time is not free.")
        return None

    async def _create(self, request: BookingRequest, reserved: str | None = None) -> Outcome:
        key = request.request_id or str(uuid.uuid4())
        sent_at = self.clock.now()
        last = Reply(None)
        for attempt in range(self.attempts):
            last = await self.calcom.create(request.event_type_id, request.start,
                                            request.attendee(), {"idempotency_key": key},
                                            reserved_slot_uid=reserved)
            why_not = self._not_ours(last.data, request, key, sent_at) if last.ok else None
            if last.ok and why_not is None:
                return await self._record(request, last.data)
            if not last.ok and not last.unknown and attempt == 0:
                return _refusal(last)  # Cal.com's 4xx come before it books: a clean "no"
            # An earlier attempt may have landed, or the foreign answer hides ours: what
            # Cal.com holds under our key decides.
            found = await self._look_up(request, key)
            if isinstance(found, dict):
                return await self._record(request, found)
            if found is None:
                return Unconfirmed(f"Cal.com: {last.message or last.status}; its bookings "
                                   f"could not be listed")
            if last.ok:
                return NotBooked("booking_failed", "calcom_returned_another_booking",
                                 f"Cal.com answered with a booking that is not this caller's "
                                 f"({why_not}).")
            if not last.unknown:
                return _refusal(last)
            # Nothing under our key yet: sending again is safe, the key finds whichever lands.
        return Unconfirmed(f"Cal.com did not answer ({last.message or last.status}) and holds "
                           f"no booking for this request yet")

    async def cancel(self, uid: str) -> Reply:
        """A cancel whose answer was lost may have happened: the booking says. Sent again only
        while Cal.com still shows it active."""
        reply = Reply(None)
        for _ in range(self.attempts):
            reply = await self.calcom.cancel(uid, CANCEL_REASON)
            if not reply.unknown:
                return reply
            seen = await self.calcom.booking(uid)
            status = seen.data.get("status") if seen.ok and isinstance(seen.data, dict) else None
            if status == "cancelled":
                return seen
            if status not in ACTIVE:
                return reply  # Cal.com cannot say: the caller hears "unknown"
        return reply

    async def reschedule(self, uid: str, start: datetime) -> Reply:
        """A move whose answer was lost may have happened: Cal.com then cancelled the old
        booking with `rescheduledToUid` naming the new one, which is the answer. Sent again
        only while the old booking is still active and names no successor."""
        reply = Reply(None)
        for _ in range(self.attempts):
            reply = await self.calcom.reschedule(uid, start)
            if not reply.unknown:
                return reply
            seen = await self.calcom.booking(uid)
            old = seen.data if seen.ok and isinstance(seen.data, dict) else {}
            if successor := old.get("rescheduledToUid"):
                new = await self.calcom.booking(str(successor))
                moved = new.ok and isinstance(new.data, dict) and _start(new.data) == start
                return new if moved else reply
            if old.get("status") not in ACTIVE:
                return reply  # gone, or Cal.com cannot say: the caller hears "unknown"
        return reply

    async def _look_up(self, request: BookingRequest, key: str) -> dict[str, Any] | bool | None:
        """Our booking at that slot (dict), none (False), or Cal.com could not say (None)."""
        bookings = await self.calcom.bookings_at(request.event_type_id, request.start)
        if bookings is None:
            return None
        ours = [b for b in bookings if (b.get("metadata") or {}).get("idempotency_key") == key]
        return ours[0] if ours else False

    def _not_ours(self, booking: Any, request: BookingRequest, key: str,
                  sent_at: datetime) -> str | None:
        """Why the booking Cal.com answered with is not this caller's (None: it is)."""
        if not isinstance(booking, dict):
            return "no booking in the answer"
        if not booking.get("uid"):
            return "no uid in the answer"  # nothing to cancel or move it by: look it up
        if (booking.get("metadata") or {}).get("idempotency_key") not in (None, key):
            return "made for another request"
        if _start(booking) != request.start:
            return f"starts at {booking.get('start')}"
        attendees = [a for a in booking.get("attendees") or () if isinstance(a, dict)]
        if not any(_same_name(a.get("name"), request.name) and (
                _digits(a.get("phoneNumber")) == _digits(request.phone)
                or (request.email and str(a.get("email")).casefold() == request.email.casefold()))
                for a in attendees):
            return "another attendee"
        created = _start({"start": booking.get("createdAt")})
        if created is None or created < sent_at - CLOCK_SKEW:
            return f"created {booking.get('createdAt') or 'at an unknown time'}, before the request"
        return None


def booker_for(mode: str, calcom: CalcomClient, store: Store, clock: Clock,
               attempts: int, holds: Holds | None = None) -> Booker:
    cls = CarefulBooker if mode == "careful" else NaiveBooker
    return cls(calcom, store, clock, attempts, holds)
