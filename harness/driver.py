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
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from fake_calcom.client import AsyncFakeControl
from harness.adapters import Adapter, Attribution, Request
from harness.capabilities import MissingCapability
from harness.clients.service import Answer, ServiceClient
from harness.history import HistoryRecorder, PendingOperation
from harness.slots import Slot

if TYPE_CHECKING:
    from harness.session import Session

T = TypeVar("T")

#: The Cal.com API version the outside world's changes are sent with (API-FACTS: bookings).
CALCOM_API_VERSION = "2024-08-13"
#: The fake's first host's key (its default seed data), for changes made in Cal.com directly.
DEFAULT_HOST_KEY = "cal_live_calharness_anna"

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def _dialled(body: dict[str, Any], to_number: str | None) -> dict[str, Any]:
    """The request as the history keeps it: the number dialled picks the tenant, so it goes
    with the request (the body sent carries it in `call`, not in the arguments)."""
    return {**body, "to_number": to_number} if to_number else body


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    """Drives one target through its adapter (+ the fake's control plane) and records it."""

    def __init__(self, session: Session, recorder: HistoryRecorder, *,
                 call_id_prefix: str = "", adapter: Adapter | None = None) -> None:
        self.session = session
        self.recorder = recorder
        self._run: Runner = session.run
        self.adapter: Adapter = adapter if adapter is not None else session.require_adapter()
        self._fake_url = session.fake.base_url if session.fake is not None else None
        # Against a shared deployment every call id carries the run's id (safety rail).
        self._prefix = call_id_prefix
        primary = session.companies["primary"]
        self._to_number = primary.phone
        # The Cal.com key changes made directly in Cal.com are made with (a host's key).
        self.calcom_api_key = primary.calcom_api_key or DEFAULT_HOST_KEY
        self._fake: AsyncFakeControl | None = None
        self._calls = itertools.count(1)
        self._contacts: dict[str, str] = {}
        # What this world still holds, for the clean-up where nothing resets the target: a
        # booking adds its appointment, a reschedule moves it, a cancel ends it (`_track`).
        self.booked: list[Request] = []
        self.booking_uids: dict[int | str, str] = {}  # appointment id -> its booking uid
        #: Booking uids the history shows ended upstream (cancelled or moved in Cal.com directly):
        #: the clean-up may find these gone without that being a problem.
        self.gone: set[str] = set()
        #: Where nothing resets the target, reconciliation is asked about the scenario's own
        #: days only (others' drift is not this scenario's); set by `world_for`.
        self.reconcile_window: tuple[datetime, datetime] | None = None

    @property
    def attribution(self) -> Attribution:
        return self.adapter.attribution

    @property
    def service(self) -> ServiceClient:
        """The reference voice API's raw client (scenarios of that API only)."""
        return self._client("voice_api")

    def _client(self, capability: str) -> ServiceClient:
        """The HTTP client of an adapter whose API has `capability` beyond the operations
        (the voice adapter's tenant reads, webhook receiver, reconcile)."""
        self.session.need(capability)
        client = getattr(self.adapter, "client", None)
        if not isinstance(client, ServiceClient):
            raise MissingCapability(capability)
        return client

    def for_service(self, url: str) -> Driver:
        """A driver for another instance of the same service (a replica), same history."""
        return Driver(self.session, self.recorder, call_id_prefix=self._prefix,
                      adapter=self.session.adapter_for(url))

    def _cid(self, call_id: str) -> str:
        return call_id if not self._prefix or call_id.startswith(self._prefix) \
            else f"{self._prefix}{call_id}"

    def call_id(self, call_id: str) -> str:
        """The call id the service sees for the scenario's `call_id` (what the driver sends):
        where nothing resets the target it carries the scenario's prefix, so an assertion on
        a call id in the service's or Cal.com's answers compares against this."""
        return self._cid(call_id)

    @property
    def fake(self) -> AsyncFakeControl:
        if self._fake_url is None:
            raise MissingCapability("outside_changes")
        if self._fake is None:
            self._fake = AsyncFakeControl(self._fake_url)
        return self._fake

    async def aclose(self) -> None:
        if self.adapter is not self.session.adapter:
            await self.adapter.close()
        if self._fake is not None:
            await self._fake.close()
            self._fake = None

    def close(self) -> None:
        self._run(self.aclose())

    def new_call_id(self, prefix: str = "call") -> str:
        return f"{prefix}_{next(self._calls):04d}"

    def _contact(self, call_id: str, phone: str | None,
                 email: str | None) -> tuple[str | None, str | None]:
        """A service that knows a booking's call only by the attendee's contact gets one of
        its own for every call (unless the scenario gives one): unique in the run, and apart
        from other runs' on a shared target (the session hands them out)."""
        kind = self.adapter.attribution.kind
        if kind == "phone" and phone is None:
            phone = self._contacts.get(call_id)
            if phone is None:
                phone = self._contacts[call_id] = self.session.new_phone()
        elif kind == "email" and email is None:
            slug = "".join(c if c.isalnum() else "-" for c in call_id).strip("-").lower()
            email = self._contacts.setdefault(call_id, f"{slug}@calls.calharness.example")
        return phone, email

    async def _operate(self, request: Request, process: str | None, slot: str | None) -> Answer:
        """Record the request, send it through the adapter, record how it ended."""
        capability = {"check": "check", "collect": "book", "cancel": "cancel",
                      "reschedule": "reschedule"}[request.f]
        self.session.need(capability)
        if request.extra and "voice_api" not in self.session.capabilities:
            raise MissingCapability("voice_api")
        self.session.spend(request)
        pending = self.recorder.invoke(process or request.call_id, request.f, request.call_id,
                                       slot, _dialled(request.record(), request.to_number))
        operation = {"check": self.adapter.check, "collect": self.adapter.book,
                     "cancel": self.adapter.cancel,
                     "reschedule": self.adapter.reschedule}[request.f]
        try:
            answer = await operation(request)
        except MissingCapability:
            pending.info({"error": "skipped: the adapter lacks this operation"})
            raise
        except Exception as exc:  # an adapter bug or a transport error: the outcome is unknown
            pending.error(exc)
            raise
        _finish(pending, answer)
        self._track(request, answer)
        return answer

    def _track(self, request: Request, answer: Answer) -> None:
        """Keep `booked` to what is still held, so the clean-up cancels exactly what is left."""
        body = answer.body if isinstance(answer.body, dict) else {}
        appointment, uid = body.get("appointment_id"), body.get("booking_uid")
        if request.f == "collect" and answer.status == "booked":
            if appointment is None or self._held(None, appointment, None) is None:
                self._hold(replace(request, appointment_id=appointment, extra={}), uid)
        elif request.f == "reschedule" and answer.status == "rescheduled":
            # The answer names the new appointment; the request (or the call) the old one.
            old = self._held(request.call_id, request.appointment_id, request.slot)
            moved = self.booked.pop(old) if old is not None else replace(request, extra={})
            self._hold(replace(moved, slot=request.new_slot, new_slot=None,
                               appointment_id=appointment), uid)
        elif request.f == "cancel" and answer.status in ("cancelled", "already_cancelled"):
            held = self._held(request.call_id, appointment or request.appointment_id,
                              request.slot)
            if held is not None:
                self.booked.pop(held)

    def _hold(self, request: Request, uid: Any) -> None:
        self.booked.append(request)
        if request.appointment_id is not None and isinstance(uid, str):
            self.booking_uids[request.appointment_id] = uid

    def _held(self, call_id: str | None, appointment_id: int | str | None,
              slot: Slot | None) -> int | None:
        """Where in `booked` the appointment is (by id; else the call's, at `slot` if given)."""
        for i, held in enumerate(self.booked):
            if appointment_id is not None:
                if held.appointment_id == appointment_id:
                    return i
            elif held.call_id == call_id and (slot is None or held.slot == slot):
                return i
        return None

    # voice-agent operations ---------------------------------------------------------------------

    async def acheck(self, slot: Slot, *, call_id: str, service: str | None = "Beratung",
                     process: str | None = None, to_number: str | None = None,
                     args: dict[str, Any] | None = None, telefon: str | None = None) -> Answer:
        call_id = self._cid(call_id)
        request = Request("check", call_id, slot=slot, service=service, phone=telefon,
                          to_number=to_number or self._to_number, extra=args or {})
        return await self._operate(request, process, slot.start)

    async def acollect(self, slot: Slot, *, name: str, call_id: str,
                       service: str = "Beratung", telefon: str | None = None,
                       email: str | None = None, bestaetigung: bool | None = None,
                       process: str | None = None, to_number: str | None = None,
                       args: dict[str, Any] | None = None,
                       timeout_s: float | None = None) -> Answer:
        call_id = self._cid(call_id)
        telefon, email = self._contact(call_id, telefon, email)
        request = Request("collect", call_id, slot=slot, name=name, phone=telefon, email=email,
                          service=service, confirm=bestaetigung,
                          to_number=to_number or self._to_number, extra=args or {},
                          timeout_s=timeout_s)
        return await self._operate(request, process, slot.start)

    async def acancel(self, *, call_id: str, appointment_id: int | None = None,
                      slot: Slot | None = None, grund: str | None = None,
                      process: str | None = None, to_number: str | None = None,
                      args: dict[str, Any] | None = None) -> Answer:
        call_id = self._cid(call_id)
        telefon, email = self._contact(call_id, None, None)
        request = Request("cancel", call_id, slot=slot, appointment_id=appointment_id,
                          reason=grund, phone=telefon, email=email,
                          to_number=to_number or self._to_number, extra=args or {})
        return await self._operate(request, process, slot.start if slot else None)

    async def areschedule(self, *, call_id: str, new_slot: Slot, appointment_id: int | None = None,
                          old_slot: Slot | None = None, process: str | None = None,
                          to_number: str | None = None,
                          args: dict[str, Any] | None = None) -> Answer:
        call_id = self._cid(call_id)
        telefon, email = self._contact(call_id, None, None)
        request = Request("reschedule", call_id, slot=old_slot, new_slot=new_slot,
                          appointment_id=appointment_id, phone=telefon, email=email,
                          to_number=to_number or self._to_number, extra=args or {})
        # The history's slot for a reschedule is the *new* start (what it tries to take).
        return await self._operate(request, process, new_slot.start)

    # outside world ------------------------------------------------------------------------------

    async def atake_slot(self, event_type_id: int, slot: Slot, *, name: str = "Outside Booker",
                         email: str = "outside@example.com", metadata: dict[str, Any] | None = None,
                         age_s: float | None = None, webhooks: bool = True,
                         process: str = "outside") -> dict[str, Any]:
        """Someone books the slot directly in Cal.com (the web page, the phone at the desk)."""
        self.session.need("outside_changes")
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
        self.session.need("outside_changes")
        key = api_key or self.calcom_api_key
        assert self._fake_url is not None
        pending = self.recorder.invoke(process, f, None, slot, {"booking_uid": uid, "by": "host"})
        headers = {"cal-api-version": CALCOM_API_VERSION, "Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as session, session.post(
                self._fake_url + path, json=body, headers=headers) as response:
            status, answer = response.status, await response.json(content_type=None)
        if 200 <= status < 300:
            pending.ok(answer)
            self.gone.add(uid)  # cancelled, or moved to a new booking: either way it ended
            return dict(answer["data"])
        pending.fail({"http_status": status, "body": answer})
        raise AssertionError(f"Cal.com refused POST {path}: {status} {answer}")

    async def aread(self, endpoint: str, api_key: str, company_id: int | None, *,
                    appointment_id: int | None = None, search: str | None = None,
                    process: str = "reader", **filters: str) -> Answer:
        """A tenant-scoped read, recorded so the tenant-isolation check can judge it."""
        client = self._client("tenant_reads")
        if endpoint not in ("appointments", "appointment", "customers"):
            raise ValueError(f"unknown read endpoint {endpoint!r}")
        self.session.spend()
        value = {"endpoint": endpoint, "company_id": company_id}
        pending = self.recorder.invoke(process, "read", None, None, value)
        if endpoint == "appointments":
            answer = await client.list_appointments(api_key, **filters)
        elif endpoint == "appointment":
            answer = await client.get_appointment(api_key, appointment_id or 0)
        else:
            answer = await client.search_customers(api_key, search or "")
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
        client = self._client("webhooks")
        self.session.spend()
        value = {"body_sha256": hashlib.sha256(raw_body).hexdigest(),
                 "signature_valid": signature_valid}
        pending = self.recorder.invoke(process, "webhook", None, None, value)
        answer = await client.deliver_webhook(raw_body, signature)
        if answer.http_status is None:
            pending.info({"error": answer.error})
        elif answer.http_status >= 400:
            pending.fail({"http_status": answer.http_status, "body": answer.body})
        else:
            pending.ok({"http_status": answer.http_status, "body": answer.body})
        return answer

    async def areconcile(self, api_key: str, *, repair: bool = False,
                         process: str = "reconciler") -> Answer:
        client = self._client("reconcile")
        self.session.spend()
        options: dict[str, Any] = {"repair": repair}
        if self.reconcile_window is None:
            pending = self.recorder.invoke(process, "reconcile", None, None, options)
            answer = await client.reconcile(api_key, repair=repair)
        else:
            options.update({"from": _utc(self.reconcile_window[0]),
                            "to": _utc(self.reconcile_window[1])})
            pending = self.recorder.invoke(process, "reconcile", None, None, options)
            answer = await client.request("POST", "/api/reconcile", json_body=options,
                                          headers=client._auth(api_key))
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

    def concurrently(self, operations: Sequence[Callable[..., Awaitable[Any]]]) -> list[Any]:
        """Start every operation at the same moment (an event releases them together) and wait
        for all; the order of results is the order given. (Operations are usually lambdas with
        default arguments, which a type checker cannot bind to one result type: Any.)"""
        return self._run(together(operations))


async def together(operations: Sequence[Callable[..., Awaitable[Any]]]) -> list[Any]:
    start = asyncio.Event()

    async def one(op: Callable[..., Awaitable[Any]]) -> Any:
        await start.wait()
        return await op()

    tasks = [asyncio.ensure_future(one(op)) for op in operations]
    await asyncio.sleep(0)  # let every task reach the start line
    start.set()
    return list(await asyncio.gather(*tasks))
