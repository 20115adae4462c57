"""A small client of the Cal.com API v2: the seven calls this service makes.

Every call returns a `Reply` instead of raising, so the booking logic can tell "Cal.com said no"
from "Cal.com's answer never came" — the difference between a refusal and an unknown outcome.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp

BOOKINGS_VERSION = "2024-08-13"
SLOTS_VERSION = "2024-09-04"
#: Cal.com's 400 for a host that is busy at that time (API-FACTS §3.2), individual and team
BUSY_MESSAGE = "already has booking at this time"
#: The first pause before a failed read is sent again; it doubles each time.
READ_BACKOFF_S = 0.05


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no answer at all (timeout, reset connection)
    data: Any = None  # the envelope's `data`; None when the body was not readable JSON
    message: str = ""  # Cal.com's error message, or why there is no answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.data is not None

    @property
    def unknown(self) -> bool:
        """Cal.com may have done it: no answer, a 5xx, or a success we could not read."""
        return self.status is None or self.status >= 500 or (self.status < 300 and not self.ok)

    @property
    def slot_taken(self) -> bool:
        # 409 booking_conflict_error: a concurrent create won the host's slot
        return self.status == 409 or (self.status == 400 and BUSY_MESSAGE in self.message)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or "")
        return str(body.get("message") or "")
    return str(body or "")[:200]


def utc_z(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class CalcomClient:
    def __init__(self, base_url: str, api_key: str, *, read_api_keys: tuple[str, ...] = (),
                 timeout_s: float = 10.0, read_attempts: int = 1,
                 session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.list_keys = (api_key, *(k for k in read_api_keys if k != api_key))
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.read_attempts = read_attempts
        self.session = session

    async def _read(self, path: str, version: str, *, params: dict[str, str] | None = None,
                    api_key: str | None = None, reservation_uid: str | None = None) -> Reply:
        """A GET, sent again (with a doubling pause) while its answer is unknown: reading
        twice changes nothing, so a short burst of failures need not reach the caller."""
        reply = Reply(None)
        for attempt in range(self.read_attempts):
            if attempt:
                await asyncio.sleep(READ_BACKOFF_S * 2 ** (attempt - 1))
            reply = await self._call("GET", path, version, params=params, api_key=api_key,
                                     reservation_uid=reservation_uid)
            if not reply.unknown:
                break
        return reply

    async def _call(self, method: str, path: str, version: str, *, body: Any = None,
                    params: dict[str, str] | None = None, api_key: str | None = None,
                    reservation_uid: str | None = None) -> Reply:
        headers = {"Authorization": f"Bearer {api_key or self.api_key}", "cal-api-version": version}
        if reservation_uid is not None:
            # Cal.com knows whose reservation a slot is by this cookie: the holder still sees it
            headers["Cookie"] = f"uid={reservation_uid}"
        try:
            async with self.session.request(method, self.base_url + path, json=body,
                                            params=params, headers=headers,
                                            timeout=self.timeout) as response:
                text = await response.text()
                status = response.status
        except TimeoutError:
            return Reply(None, message="timeout")
        except aiohttp.ClientError as exc:
            return Reply(None, message=f"{type(exc).__name__}: {exc}")
        try:
            decoded = json.loads(text)
        except ValueError:
            return Reply(status, message=f"unreadable body: {text[:120]!r}")
        if 200 <= status < 300:
            data = decoded.get("data") if isinstance(decoded, dict) else None
            return Reply(status, data, "" if data is not None else "no data in the answer")
        return Reply(status, message=_message(decoded))

    async def create(self, event_type_id: int, start: datetime, attendee: dict[str, str],
                     metadata: dict[str, str] | None = None,
                     reserved_slot_uid: str | None = None) -> Reply:
        body: dict[str, Any] = {"eventTypeId": event_type_id, "start": utc_z(start),
                                "attendee": attendee}
        if metadata:
            body["metadata"] = metadata
        if reserved_slot_uid is not None:  # the caller's own reservation of this slot
            body["reservedSlotUid"] = reserved_slot_uid
        return await self._call("POST", "/v2/bookings", BOOKINGS_VERSION, body=body)

    async def cancel(self, uid: str, reason: str) -> Reply:
        # Cal.com requires a reason when the host's own key cancels
        return await self._call("POST", f"/v2/bookings/{uid}/cancel", BOOKINGS_VERSION,
                                body={"cancellationReason": reason})

    async def reschedule(self, uid: str, start: datetime) -> Reply:
        return await self._call("POST", f"/v2/bookings/{uid}/reschedule", BOOKINGS_VERSION,
                                body={"start": utc_z(start)})

    async def booking(self, uid: str) -> Reply:
        return await self._read(f"/v2/bookings/{uid}", BOOKINGS_VERSION)

    async def free_starts(self, event_type_id: int, day: date, *,
                          reservation_uid: str | None = None) -> list[datetime] | None:
        """Free starts on `day` (UTC), or None when Cal.com could not say. Slots others have
        reserved are not free; the one `reservation_uid` holds is (it is the caller's own)."""
        reply = await self._read("/v2/slots", SLOTS_VERSION, params={
            "eventTypeId": str(event_type_id), "start": day.isoformat(), "end": day.isoformat()},
            reservation_uid=reservation_uid)
        if not reply.ok or not isinstance(reply.data, dict):
            return None
        return sorted(datetime.fromisoformat(slot["start"].replace("Z", "+00:00"))
                      for slots in reply.data.values() for slot in slots)

    async def reserve(self, event_type_id: int, start: datetime) -> Reply:
        """Hold the slot at Cal.com for a few minutes (its default length): `data` carries
        `reservationUid` and `reservationUntil`. Refused (422) when it is booked or held."""
        return await self._call("POST", "/v2/slots/reservations", SLOTS_VERSION, body={
            "eventTypeId": event_type_id, "slotStart": utc_z(start)})

    async def bookings_at(self, event_type_id: int, start: datetime) -> list[dict[str, Any]] | None:
        """Active bookings of this event type starting at `start`, from every host key we
        have; None when a list could not be read (then nobody can say there is none)."""
        found: dict[str, dict[str, Any]] = {}
        params = {"eventTypeId": str(event_type_id), "status": "upcoming,unconfirmed",
                  "afterStart": utc_z(start), "beforeEnd": utc_z(start + timedelta(hours=12))}
        for key in self.list_keys:
            reply = await self._read("/v2/bookings", BOOKINGS_VERSION, params=params,
                                     api_key=key)
            if not reply.ok or not isinstance(reply.data, list):
                return None
            for booking in reply.data:
                if _instant(booking.get("start")) == start:
                    found[booking["uid"]] = booking
        return list(found.values())


def _instant(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
