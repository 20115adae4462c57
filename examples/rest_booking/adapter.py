"""calharness's adapter for the REST example (harness/adapters/__init__.py: the protocol).

The service writes no call id into Cal.com, so a booking is a call's by the attendee's phone.
Its 4xx answers say "not done", its 5xx "unknown": those become the harness's fail and info.

Settings (`[adapter_settings]`): `default_service` ("Beratung"), `timeout_s` (30), and
`hold = true` for a service started with `--hold`: the adapter then offers `holds`, sends the
caller's phone with every check (the service holds the slot for that caller), and a check's
answer carries `held_until` (UTC, `…Z`) when the service held the slot.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from harness.adapters import AdapterContext, Attribution, Request
from harness.clients.service import Answer, ServiceClient
from harness.slots import BERLIN
from harness.target import TargetCompany

DONE = {"collect": "booked", "cancel": "cancelled", "reschedule": "rescheduled"}


SETTINGS = ("default_service", "hold", "timeout_s")


class RestBookingAdapter:
    capabilities = frozenset({"check", "book", "cancel", "reschedule", "appointments"})
    attribution = Attribution("phone")

    def __init__(self, context: AdapterContext) -> None:
        settings = dict(context.settings)
        if unknown := sorted(set(settings) - set(SETTINGS)):
            raise ValueError(f"rest_booking adapter: unknown setting(s) {unknown}; "
                             f"known: {', '.join(SETTINGS)}")
        hold = settings.get("hold", False)
        if not isinstance(hold, bool):
            raise ValueError(f"rest_booking adapter: hold must be true or false, got {hold!r}")
        self.hold = hold
        if hold:  # the service was started with --hold
            self.capabilities = RestBookingAdapter.capabilities | {"holds"}
        self.service = str(settings.get("default_service", "Beratung"))
        self.client = ServiceClient(context.target.service_url, session=context.http,
                                    timeout_s=float(settings.get("timeout_s", 30.0)))

    async def check(self, r: Request) -> Answer:
        assert r.slot is not None
        params = {"service": r.service or self.service, "start": r.slot.start}
        if self.hold and r.phone:  # the caller it holds the slot for
            params["phone"] = r.phone
        return await self._send(r, "GET", "/availability", params=params)

    async def book(self, r: Request) -> Answer:
        if r.confirm is False:  # only asked whether it may book: the API has no dry run
            return await self.check(replace(r, f="check"))
        assert r.slot is not None
        return await self._send(r, "POST", "/bookings", timeout_s=r.timeout_s, json_body={
            "service": r.service or self.service, "start": r.slot.start, "name": r.name,
            "phone": r.phone, **({"email": r.email} if r.email else {})})

    async def cancel(self, r: Request) -> Answer:
        return await self._send(r, "DELETE", f"/bookings/{await self._id(r)}")

    async def reschedule(self, r: Request) -> Answer:
        assert r.new_slot is not None
        return await self._send(r, "PATCH", f"/bookings/{await self._id(r)}",
                                json_body={"start": r.new_slot.start})

    async def _id(self, r: Request) -> int | str:
        """The booking named, else the caller's at the slot, found by phone (0: none, a 404)."""
        if r.appointment_id is not None or r.slot is None or r.phone is None:
            return r.appointment_id or 0
        listed = await self.client.request("GET", "/bookings", params={"phone": r.phone})
        return next((b["id"] for b in (listed.body or {}).get("bookings", ())
                     if b["start"] == r.slot.start and b["status"] == "confirmed"), 0)

    async def appointments(self, company: TargetCompany, day: date) -> list[dict[str, Any]]:
        first = datetime.combine(day, time(), BERLIN)  # the Berlin day: the API takes offsets
        answer = await self.client.request("GET", "/bookings", params={
            "from": first.isoformat(), "to": (first + timedelta(days=1)).isoformat()})
        if answer.http_status != 200 or not isinstance(answer.body, dict):
            raise RuntimeError(f"GET /bookings answered {answer.http_status}: "
                               f"{answer.body or answer.error}")
        return [appointment for b in answer.body["bookings"] for appointment in _appointments(b)]

    async def _send(self, r: Request, method: str, path: str, **kw: Any) -> Answer:
        """The request, its answer in harness words (the service's own kept as `raw`)."""
        answer = await self.client.request(method, path, **kw)
        raw, status = answer.body, answer.http_status
        if status is None or status >= 500 or not isinstance(raw, dict):
            return Answer(status, {"status": "error", "success": False}, answer.error, raw=raw)
        ok = status < 400
        said = (("available" if raw.get("available") else "unavailable") if r.f == "check"
                else DONE[r.f]) if ok else str(raw.get("error"))
        again = r.f == "collect" and status == 200  # the booking this caller already holds
        return Answer(status, {
            "status": said, "success": ok, "booking_uid": raw.get("calcom_uid"),
            "appointment_id": raw.get("id"), "start": raw.get("start"),
            "alternatives": [{"start": a} for a in raw.get("alternatives", [])],
            "message": raw.get("message"),
            "reason": raw.get("reason") or ("already_booked" if again else None),
            **({"held_until": raw.get("held_until")} if r.f == "check" else {})}, raw=raw)

    async def close(self) -> None:
        await self.client.close()


def _appointments(b: dict[str, Any]) -> list[dict[str, Any]]:
    """A booking, and each Cal.com booking a reschedule replaced (the caller was told of it)."""
    now = {"id": b["id"], "call_id": None, "booking_uid": b["calcom_uid"], "start": b["start"],
           "end": b["end"], "status": "scheduled" if b["status"] == "confirmed" else "cancelled",
           "company_id": None, "host_id": b["host_id"], "event_type_id": b["event_type_id"],
           "customer": {"name": b["name"]}}
    return [now, *({**now, "id": f"{b['id']}/{old['calcom_uid']}", "booking_uid": old["calcom_uid"],
                    "start": old["start"], "end": None, "host_id": None, "status": "rescheduled"}
                   for old in b["replaced_calcom_bookings"])]
