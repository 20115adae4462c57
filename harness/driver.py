"""The recording driver: every operation a scenario performs goes into the history.

A scenario never talks to the service or the fake directly when the operation matters to the
invariants: it goes through a `Driver`, which records invoke → ok | fail | info around each call
(docs/contracts.md §3), so the checkers can judge the whole run afterwards.

Methods are async (`acollect`, …) for concurrent callers, with blocking twins (`collect`, …)
that run on the stack's event loop for straight-line scenarios and Hypothesis rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp

from fake_calcom.client import AsyncFakeControl
from harness.clients.service import Answer, ServiceClient
from harness.history import HistoryRecorder, PendingOperation
from harness.slots import Slot

T = TypeVar("T")

#: The Cal.com API version the outside world's changes are sent with (API-FACTS: bookings).
CALCOM_API_VERSION = "2024-08-13"

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def _dialled(body: dict[str, Any], to_number: str | None) -> dict[str, Any]:
    """The request as the history keeps it: the number dialled picks the tenant, so it goes
    with the request (the body sent carries it in `call`, not in the arguments)."""
    return {**body, "to_number": to_number} if to_number else body


def _finish(pending: PendingOperation, answer: Answer) -> Answer:
    """Record how an exchange ended: a JSON answer is classified; no answer or a 5xx is info."""
    if answer.http_status is None:
        pending.info({"error": answer.error})
    elif answer.http_status >= 500 or not isinstance(answer.body, dict):
        pending.info({"http_status": answer.http_status, "body": answer.body})
    else:
        pending.answer(answer.body)
    return answer


class Driver:
    """Drives one target (service + optional fake control plane) and records what it does."""

    def __init__(self, service_url: str, recorder: HistoryRecorder, run: Runner, *,
                 fake_url: str | None = None, timeout_s: float = 30.0,
                 call_id_prefix: str = "",
                 service_factory: Callable[[], ServiceClient] | None = None,
                 to_number: str | None = None, calcom_api_key: str | None = None) -> None:
        self.recorder = recorder
        self._run = run
        self._service_url = service_url
        self._fake_url = fake_url
        self._timeout_s = timeout_s
        # Against a shared deployment every call id carries the run's id (safety rail).
        self._prefix = call_id_prefix
        self._service_factory = service_factory
        self._to_number = to_number
        # The Cal.com key changes made directly in Cal.com are made with (a host's key).
        self.calcom_api_key = calcom_api_key
        self._service: ServiceClient | None = None
        self._fake: AsyncFakeControl | None = None
        self._calls = itertools.count(1)

    # clients live on the stack's loop: create them lazily there
    @property
    def service(self) -> ServiceClient:
        if self._service is None:
            self._service = (self._service_factory() if self._service_factory is not None
                             else ServiceClient(self._service_url, timeout_s=self._timeout_s))
        return self._service

    def _cid(self, call_id: str) -> str:
        return call_id if not self._prefix or call_id.startswith(self._prefix) \
            else f"{self._prefix}{call_id}"

    @property
    def fake(self) -> AsyncFakeControl:
        if self._fake_url is None:
            raise RuntimeError("this target has no fake Cal.com control plane")
        if self._fake is None:
            self._fake = AsyncFakeControl(self._fake_url)
        return self._fake

    async def aclose(self) -> None:
        if self._service is not None:
            await self._service.close()
            self._service = None
        if self._fake is not None:
            await self._fake.close()
            self._fake = None

    def close(self) -> None:
        self._run(self.aclose())

    def new_call_id(self, prefix: str = "call") -> str:
        return f"{prefix}_{next(self._calls):04d}"

    # voice-agent operations ---------------------------------------------------------------------

    async def acheck(self, slot: Slot, *, call_id: str, service: str | None = "Beratung",
                     process: str | None = None, to_number: str | None = None,
                     args: dict[str, Any] | None = None) -> Answer:
        call_id = self._cid(call_id)
        to_number = to_number or self._to_number
        body = {"datum": slot.datum, "uhrzeit": slot.uhrzeit, "call_id": call_id}
        if service is not None:
            body["dienstleistung"] = service
        body.update(args or {})
        pending = self.recorder.invoke(process or call_id, "check", call_id, slot.start, body)
        return _finish(pending, await self.service.check_availability(body, to_number=to_number))

    async def acollect(self, slot: Slot, *, name: str, call_id: str,
                       service: str = "Beratung", telefon: str | None = None,
                       email: str | None = None, bestaetigung: bool | None = None,
                       process: str | None = None, to_number: str | None = None,
                       args: dict[str, Any] | None = None,
                       timeout_s: float | None = None) -> Answer:
        call_id = self._cid(call_id)
        to_number = to_number or self._to_number
        body: dict[str, Any] = {"datum": slot.datum, "uhrzeit": slot.uhrzeit, "name": name,
                                "dienstleistung": service, "call_id": call_id}
        for key, value in (("telefon", telefon), ("email", email), ("bestaetigung", bestaetigung)):
            if value is not None:
                body[key] = value
        body.update(args or {})
        pending = self.recorder.invoke(process or call_id, "collect", call_id, slot.start,
                                       _dialled(body, to_number))
        answer = await self.service.collect_appointment(body, to_number=to_number,
                                                        timeout_s=timeout_s)
        return _finish(pending, answer)

    async def acancel(self, *, call_id: str, appointment_id: int | None = None,
                      slot: Slot | None = None, grund: str | None = None,
                      process: str | None = None, to_number: str | None = None,
                      args: dict[str, Any] | None = None) -> Answer:
        call_id = self._cid(call_id)
        to_number = to_number or self._to_number
        body: dict[str, Any] = {"call_id": call_id}
        if appointment_id is not None:
            body["appointment_id"] = appointment_id
        if slot is not None:
            body.update(datum=slot.datum, uhrzeit=slot.uhrzeit)
        if grund is not None:
            body["grund"] = grund
        body.update(args or {})
        pending = self.recorder.invoke(process or call_id, "cancel", call_id,
                                       slot.start if slot else None, _dialled(body, to_number))
        return _finish(pending, await self.service.cancel_appointment(body, to_number=to_number))

    async def areschedule(self, *, call_id: str, new_slot: Slot, appointment_id: int | None = None,
                          old_slot: Slot | None = None, process: str | None = None,
                          to_number: str | None = None,
                          args: dict[str, Any] | None = None) -> Answer:
        call_id = self._cid(call_id)
        to_number = to_number or self._to_number
        body: dict[str, Any] = {"call_id": call_id, "neues_datum": new_slot.datum,
                                "neue_uhrzeit": new_slot.uhrzeit}
        if appointment_id is not None:
            body["appointment_id"] = appointment_id
        if old_slot is not None:
            body.update(datum=old_slot.datum, uhrzeit=old_slot.uhrzeit)
        body.update(args or {})
        # The history's slot for a reschedule is the *new* start (what it tries to take).
        pending = self.recorder.invoke(process or call_id, "reschedule", call_id,
                                       new_slot.start, _dialled(body, to_number))
        return _finish(pending, await self.service.reschedule_appointment(
            body, to_number=to_number))

    # outside world ------------------------------------------------------------------------------

    async def atake_slot(self, event_type_id: int, slot: Slot, *, name: str = "Outside Booker",
                         email: str = "outside@example.com", metadata: dict[str, Any] | None = None,
                         age_s: float | None = None, webhooks: bool = True,
                         process: str = "outside") -> dict[str, Any]:
        """Someone books the slot directly in Cal.com (the web page, the phone at the desk)."""
        value = {"eventTypeId": event_type_id, "start": slot.start,
                 "attendee": {"name": name, "email": email}, "metadata": metadata or {},
                 "age_s": age_s, "webhooks": webhooks}
        pending = self.recorder.invoke(process, "take_slot", (metadata or {}).get("call_id"),
                                       slot.start, value)
        try:
            booking = await self.fake.take_slot(event_type_id, slot.start,
                                                {"name": name, "email": email},
                                                metadata=metadata, age_s=age_s,
                                                webhooks=webhooks)
        except Exception as exc:
            pending.fail({"error": str(exc)})
            raise
        pending.ok(booking)
        return booking

    async def aoutside_cancel(self, uid: str, *, reason: str = "Abgesagt am Empfang",
                              api_key: str | None = None,
                              process: str = "outside-calcom") -> dict[str, Any]:
        """Someone cancels booking `uid` in Cal.com directly (its host, with a reason: the front
        desk, or the customer by the link in the confirmation e-mail), not through the voice
        service. Returns Cal.com's booking."""
        return await self._outside("cancel", None, uid, f"/v2/bookings/{uid}/cancel",
                                   {"cancellationReason": reason}, api_key, process)

    async def aoutside_reschedule(self, uid: str, new_slot: Slot, *,
                                  reason: str = "Am Empfang verschoben",
                                  api_key: str | None = None,
                                  process: str = "outside-calcom") -> dict[str, Any]:
        """Someone moves booking `uid` to `new_slot` in Cal.com directly; returns the new
        booking. Recorded with the new start, so the checkers know somebody asked for it."""
        return await self._outside("reschedule", new_slot.start, uid,
                                   f"/v2/bookings/{uid}/reschedule",
                                   {"start": new_slot.start, "reschedulingReason": reason},
                                   api_key, process)

    async def _outside(self, f: str, slot: str | None, uid: str, path: str,
                       body: dict[str, Any], api_key: str | None,
                       process: str) -> dict[str, Any]:
        """One change over Cal.com's own API (on the fake), recorded as the process
        `outside-calcom` with no call. A refusal fails the scenario: it means the scenario
        set up something Cal.com would not do."""
        key = api_key or self.calcom_api_key
        if self._fake_url is None or key is None:
            raise RuntimeError("changes in Cal.com need the fake's URL and a Cal.com API key")
        pending = self.recorder.invoke(process, f, None, slot, {"booking_uid": uid, "by": "host"})
        headers = {"cal-api-version": CALCOM_API_VERSION, "Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as session, session.post(
                self._fake_url + path, json=body, headers=headers) as response:
            status, answer = response.status, await response.json(content_type=None)
        if 200 <= status < 300:
            pending.ok(answer)
            return dict(answer["data"])
        pending.fail({"http_status": status, "body": answer})
        raise AssertionError(f"Cal.com refused POST {path}: {status} {answer}")

    async def aread(self, endpoint: str, api_key: str, company_id: int | None, *,
                    appointment_id: int | None = None, search: str | None = None,
                    process: str = "reader", **filters: str) -> Answer:
        """A tenant-scoped read, recorded so the tenant-isolation check can judge it."""
        value = {"endpoint": endpoint, "company_id": company_id}
        pending = self.recorder.invoke(process, "read", None, None, value)
        if endpoint == "appointments":
            answer = await self.service.list_appointments(api_key, **filters)
        elif endpoint == "appointment":
            answer = await self.service.get_appointment(api_key, appointment_id or 0)
        elif endpoint == "customers":
            answer = await self.service.search_customers(api_key, search or "")
        else:
            raise ValueError(f"unknown read endpoint {endpoint!r}")
        if answer.http_status is None:
            pending.info({"error": answer.error})
        elif answer.http_status >= 400:
            pending.fail({"http_status": answer.http_status, "body": answer.body})
        else:
            pending.ok(answer.body)
        return answer

    async def awebhook(self, raw_body: bytes, signature: str | None, *,
                       signature_valid: bool, process: str = "webhook-sender") -> Answer:
        """Deliver a Cal.com webhook ourselves (forgeries, replays)."""
        value = {"body_sha256": hashlib.sha256(raw_body).hexdigest(),
                 "signature_valid": signature_valid}
        pending = self.recorder.invoke(process, "webhook", None, None, value)
        answer = await self.service.deliver_webhook(raw_body, signature)
        if answer.http_status is None:
            pending.info({"error": answer.error})
        elif answer.http_status >= 400:
            pending.fail({"http_status": answer.http_status, "body": answer.body})
        else:
            pending.ok({"http_status": answer.http_status, "body": answer.body})
        return answer

    async def areconcile(self, api_key: str, *, repair: bool = False,
                         process: str = "reconciler") -> Answer:
        pending = self.recorder.invoke(process, "reconcile", None, None, {"repair": repair})
        answer = await self.service.reconcile(api_key, repair=repair)
        if answer.http_status == 200 and isinstance(answer.body, dict):
            pending.ok(answer.body)
        elif answer.http_status is None or answer.http_status >= 500:
            pending.info({"http_status": answer.http_status, "error": answer.error})
        else:
            pending.fail({"http_status": answer.http_status, "body": answer.body})
        return answer

    # blocking twins -----------------------------------------------------------------------------

    def check(self, slot: Slot, **kw: Any) -> Answer:
        return self._run(self.acheck(slot, **kw))

    def collect(self, slot: Slot, **kw: Any) -> Answer:
        return self._run(self.acollect(slot, **kw))

    def cancel(self, **kw: Any) -> Answer:
        return self._run(self.acancel(**kw))

    def reschedule(self, **kw: Any) -> Answer:
        return self._run(self.areschedule(**kw))

    def take_slot(self, event_type_id: int, slot: Slot, **kw: Any) -> dict[str, Any]:
        return self._run(self.atake_slot(event_type_id, slot, **kw))

    def outside_cancel(self, uid: str, **kw: Any) -> dict[str, Any]:
        return self._run(self.aoutside_cancel(uid, **kw))

    def outside_reschedule(self, uid: str, new_slot: Slot, **kw: Any) -> dict[str, Any]:
        return self._run(self.aoutside_reschedule(uid, new_slot, **kw))

    def read(self, endpoint: str, api_key: str, company_id: int | None, **kw: Any) -> Answer:
        return self._run(self.aread(endpoint, api_key, company_id, **kw))

    def webhook(self, raw_body: bytes, signature: str | None, **kw: Any) -> Answer:
        return self._run(self.awebhook(raw_body, signature, **kw))

    def reconcile(self, api_key: str, **kw: Any) -> Answer:
        return self._run(self.areconcile(api_key, **kw))

    def concurrently(self, operations: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
        """Start every operation at the same moment (an event releases them together) and wait
        for all; the order of results is the order given."""
        return self._run(together(operations))


async def together(operations: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    start = asyncio.Event()

    async def one(op: Callable[[], Awaitable[T]]) -> T:
        await start.wait()
        return await op()

    tasks = [asyncio.ensure_future(one(op)) for op in operations]
    await asyncio.sleep(0)  # let every task reach the start line
    start.set()
    return list(await asyncio.gather(*tasks))
