"""The HTTP API: plain REST and JSON, UTC times (README.md lists every answer).

4xx answers mean "nothing was done" — a caller told 409 or 422 has no booking, as far as this
service knows; 5xx answers mean "we do not know": 504 `booking_unconfirmed` is the careful
mode's way of saying Cal.com may hold a booking it could not find.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from examples.rest_booking import validation as v
from examples.rest_booking.booking import Booked, Booker, BookingRequest, NotBooked, Unconfirmed
from examples.rest_booking.calcom import CalcomClient
from examples.rest_booking.holds import Hold, Holds
from examples.rest_booking.settings import Settings
from examples.rest_booking.store import Store, host_of, z

log = logging.getLogger("rest_booking")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer is JSON, whatever went wrong (a caller's client parses them all)."""
    try:
        return await handler(request)
    except v.Invalid as exc:
        return error(400, exc.error, str(exc), **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, "not_found" if exc.status == 404 else "http_error", exc.reason)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal_error", "the service failed; the booking may not be recorded")


class Api:
    def __init__(self, settings: Settings, calcom: CalcomClient, store: Store,
                 booker: Booker) -> None:
        self.settings = settings
        self.calcom = calcom
        self.store = store
        self.booker = booker

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self.healthz),
                web.get("/availability", self.availability),
                web.post("/bookings", self.create),
                web.get("/bookings", self.list_bookings),
                web.get(r"/bookings/{id:\d+}", self.show),
                web.delete(r"/bookings/{id:\d+}", self.cancel),
                web.patch(r"/bookings/{id:\d+}", self.reschedule)]

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "mode": self.settings.mode,
                                  "database": "sqlite"})

    async def _alternatives(self, event_type_id: int, start: datetime) -> list[str]:
        """Up to three free starts that day, the nearest first."""
        free = await self.calcom.free_starts(event_type_id, start.date()) or []
        nearest = sorted((s for s in free if s != start), key=lambda s: abs(s - start))[:3]
        return [z(s) for s in sorted(nearest)]

    async def availability(self, request: web.Request) -> web.Response:
        query = v.fields(dict(request.query), {"service", "start"}, {"phone"})
        _, event_type_id = v.service(query["service"], self.settings.services)
        start = v.instant(query["start"])
        phone = v.phone(query["phone"]) if query.get("phone") else None
        holds = self.booker.holds
        if holds is not None and phone is not None:
            # one caller at a time per slot: whoever reserves it first holds it
            async with self.booker.slot_lock(event_type_id, start):
                return await self._offer(holds, phone, event_type_id, start)
        free = await self.calcom.free_starts(event_type_id, start.date())
        if free is None:
            return error(503, "calcom_unavailable", "Cal.com's free slots could not be read")
        return await self._availability(start in free, event_type_id, start)

    async def _offer(self, holds: Holds, phone: str, event_type_id: int,
                     start: datetime) -> web.Response:
        """--hold: a slot this caller finds free is reserved for them at Cal.com."""
        held = holds.live(phone, event_type_id, start)
        free = await self.calcom.free_starts(event_type_id, start.date(),
                                             reservation_uid=held.uid if held else None)
        if free is None:
            return error(503, "calcom_unavailable", "Cal.com's free slots could not be read")
        if start not in free:
            return await self._availability(False, event_type_id, start)
        taken = await holds.take(phone, event_type_id, start)
        if taken == "refused":  # booked or reserved by someone else since the read
            return await self._availability(False, event_type_id, start)
        # no answer to the reservation: free as far as Cal.com said, but not held
        return await self._availability(True, event_type_id, start,
                                        taken.until if isinstance(taken, Hold) else None)

    async def _availability(self, available: bool, event_type_id: int, start: datetime,
                            held_until: datetime | None = None) -> web.Response:
        alternatives = [] if available else await self._alternatives(event_type_id, start)
        answer: dict[str, Any] = {"available": available, "start": z(start),
                                  "alternatives": alternatives}
        if held_until is not None:
            answer["held_until"] = z(held_until)
        return web.json_response(answer)

    async def create(self, request: web.Request) -> web.Response:
        body = v.fields(await self._json(request), {"service", "start", "name", "phone"},
                        {"email", "request_id"})
        service, event_type_id = v.service(body["service"], self.settings.services)
        start = v.instant(body["start"])
        if start <= self.settings.clock.now():
            raise v.Invalid(f"start {z(start)} is in the past")
        outcome = await self.booker.book(BookingRequest(
            service, event_type_id, start, v.text(body["name"], "name"), v.phone(body["phone"]),
            v.email(body.get("email")),
            v.text(body["request_id"], "request_id") if body.get("request_id") else None,
            self.settings.time_zone))
        if isinstance(outcome, Booked):
            return web.json_response(outcome.booking, status=200 if outcome.replayed else 201)
        if isinstance(outcome, Unconfirmed):
            return error(504, "booking_unconfirmed", "Cal.com may hold this booking; it could "
                         f"not be confirmed ({outcome.reason}). Call the customer back.")
        return await self._not_booked(outcome, event_type_id, start)

    async def _not_booked(self, outcome: NotBooked, event_type_id: int,
                          start: datetime) -> web.Response:
        if outcome.error == "slot_taken":
            return error(409, "slot_taken", outcome.message, reason=outcome.reason,
                         alternatives=await self._alternatives(event_type_id, start))
        if outcome.error == "rate_limited":  # asking Cal.com for other times would not help
            return error(429, outcome.error, outcome.message, reason=outcome.reason)
        return error(422, outcome.error, outcome.message, reason=outcome.reason,
                     alternatives=await self._alternatives(event_type_id, start))

    async def list_bookings(self, request: web.Request) -> web.Response:
        query = v.fields(dict(request.query), set(), {"phone", "date", "from", "to"})
        window = v.window(query)
        if "phone" in query:
            bookings = await self.store.by_phone(v.phone(query["phone"]))
            if window is not None:
                bookings = [b for b in bookings if window[0] <= v.instant(b["start"]) < window[1]]
        elif window is not None:
            bookings = await self.store.between(*window)
        else:
            raise v.Invalid("give phone=+49…, or date=YYYY-MM-DD (UTC) or from=…&to=…, or both")
        return web.json_response({"bookings": bookings})

    async def _booking(self, request: web.Request) -> dict[str, Any]:
        booking = await self.store.get(int(request.match_info["id"]))
        if booking is None:
            raise web.HTTPNotFound(reason=f"no booking {request.match_info['id']}")
        return booking

    async def show(self, request: web.Request) -> web.Response:
        return web.json_response(await self._booking(request))

    async def cancel(self, request: web.Request) -> web.Response:
        booking = await self._booking(request)
        if booking["status"] == "cancelled":
            return web.json_response(booking)  # cancelling twice is no error
        reply = await self.booker.cancel(booking["calcom_uid"])
        gone = reply.status == 404 or (reply.status == 400 and "cancelled" in reply.message)
        if reply.ok or gone:
            return web.json_response(await self.store.cancel(booking["id"],
                                                             self.settings.clock.now()))
        if reply.unknown:
            return error(502, "calcom_unavailable", "Cal.com did not confirm the cancellation "
                         f"({reply.message or reply.status}); it may have happened")
        return error(422, "cancel_failed", reply.message or f"Cal.com answered {reply.status}")

    async def reschedule(self, request: web.Request) -> web.Response:
        booking = await self._booking(request)
        body = v.fields(await self._json(request), {"start"}, set())
        start = v.instant(body["start"])
        if booking["status"] == "cancelled":
            return error(409, "cancelled", f"booking {booking['id']} is cancelled")
        if z(start) == booking["start"]:
            return web.json_response(booking)
        if start <= self.settings.clock.now():
            raise v.Invalid(f"start {z(start)} is in the past")
        event_type_id = booking["event_type_id"]
        async with self.booker.slot_lock(event_type_id, start):
            refusal = await self.booker.may_take(event_type_id, start)
            if refusal is not None:
                return await self._not_booked(refusal, event_type_id, start)
            reply = await self.booker.reschedule(booking["calcom_uid"], start)
            if reply.ok:
                data = reply.data
                moved = await self.store.move(booking, str(data.get("uid")), start,
                                              v.instant(data["end"], "end") if data.get("end")
                                              else None, host_of(data), self.settings.clock.now())
                return web.json_response(moved)
        if reply.slot_taken:
            return await self._not_booked(NotBooked("slot_taken", "calcom_busy", "That time "
                                                    "is not free."), event_type_id, start)
        if reply.unknown:
            return error(502, "calcom_unavailable", "Cal.com did not confirm the move "
                         f"({reply.message or reply.status}); it may have happened")
        return error(422, "reschedule_failed", reply.message or f"Cal.com answered {reply.status}")

    @staticmethod
    async def _json(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise v.Invalid("the body is not JSON") from None
