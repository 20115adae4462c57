"""Adapters: one small interface per booking-service API shape (Pact's provider, Jepsen's client).

The harness asks for operations — check a slot, book it, cancel, reschedule, list a tenant's
appointments — as :class:`Request` objects; an adapter turns each into its service's HTTP call
and the service's reply into the harness's :class:`~harness.clients.service.Answer`, whose body
uses the harness vocabulary (docs/contracts.md §3: ``status`` booked / slot_taken / … / error,
``success``, ``booking_uid`` when the service says which Cal.com booking, ``appointment_id``,
``start``, ``alternatives``). What the caller was told is then judged against Cal.com's ground
truth by the checkers — never trusted.

An adapter also says how a Cal.com booking is **attributed** to a call (:class:`Attribution`):
by a metadata key the service writes (the reference writes ``metadata.call_id``), or by the
attendee's e-mail or phone number the caller gave (the harness gives every call its own). And it
says which operations its API has (`capabilities`): a scenario needing one it lacks is skipped.

Write one for your service as `package.module:Class` and name it in the target file
(``adapter = "mysvc.calharness_adapter:MyAdapter"``, settings in ``[adapter_settings]``); see the
README's "Writing an adapter" and `examples/`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import aiohttp

from harness.clients.service import Answer
from harness.slots import Slot

if TYPE_CHECKING:
    from harness.target import Target, TargetCompany


class AdapterError(ValueError):
    """An adapter that cannot be loaded or configured (the message says what to fix)."""


@dataclass(frozen=True)
class Attribution:
    """How a Cal.com booking names the call it was made for.

    * ``metadata``: ``booking.metadata[key]`` is the call id (the reference: ``call_id``);
    * ``email`` / ``phone``: the attendee's e-mail / phone number is the one the call gave
      (the harness gives every call its own unless a scenario says otherwise).
    """

    kind: Literal["metadata", "email", "phone"] = "metadata"
    key: str = "call_id"

    def describe(self) -> str:
        return f"metadata.{self.key}" if self.kind == "metadata" else f"attendee {self.kind}"


@dataclass(frozen=True)
class Request:
    """One operation as the harness asks it; `extra` carries raw API fields (voice API only)."""

    f: Literal["check", "collect", "cancel", "reschedule"]
    call_id: str
    slot: Slot | None = None  # check/collect: the slot; cancel/reschedule: the booking's slot
    new_slot: Slot | None = None  # reschedule: where to
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    service: str | None = None  # the service (dienstleistung) as the caller names it
    confirm: bool | None = None  # collect: False only checks (bestaetigung: false)
    appointment_id: int | str | None = None
    reason: str | None = None
    to_number: str | None = None  # the number dialled: picks the tenant
    extra: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None

    def record(self) -> dict[str, Any]:
        """The request as the history keeps it (contract §3; the voice API's field names)."""
        body: dict[str, Any] = {"call_id": self.call_id}
        if self.f in ("check", "collect") and self.slot is not None:
            body.update(datum=self.slot.datum, uhrzeit=self.slot.uhrzeit)
            if self.f == "collect":
                body["name"] = self.name
            if self.service is not None:
                body["dienstleistung"] = self.service
            for key, value in (("telefon", self.phone), ("email", self.email),
                               ("bestaetigung", self.confirm)):
                if value is not None:
                    body[key] = value
        elif self.f == "cancel":
            if self.appointment_id is not None:
                body["appointment_id"] = self.appointment_id
            if self.slot is not None:
                body.update(datum=self.slot.datum, uhrzeit=self.slot.uhrzeit)
            if self.reason is not None:
                body["grund"] = self.reason
        elif self.f == "reschedule":
            assert self.new_slot is not None
            body.update(neues_datum=self.new_slot.datum, neue_uhrzeit=self.new_slot.uhrzeit)
            if self.appointment_id is not None:
                body["appointment_id"] = self.appointment_id
            if self.slot is not None:
                body.update(datum=self.slot.datum, uhrzeit=self.slot.uhrzeit)
        body.update(self.extra)
        return body


@runtime_checkable
class Adapter(Protocol):
    """What the harness needs of a service's API. Methods the API lacks may raise
    `MissingCapability`; `capabilities` must then leave them out."""

    #: operations and extras it offers: a subset of check, book, cancel, reschedule,
    #: appointments, voice_api, tenant_reads, webhooks, reconcile (harness/capabilities.py)
    capabilities: frozenset[str]
    attribution: Attribution

    async def check(self, request: Request) -> Answer: ...

    async def book(self, request: Request) -> Answer: ...

    async def cancel(self, request: Request) -> Answer: ...

    async def reschedule(self, request: Request) -> Answer: ...

    async def appointments(self, company: TargetCompany, day: date) -> list[dict[str, Any]]:
        """The tenant's appointments on `day` (Berlin time) as the service's API shows them, in
        the harness's appointment shape (contract §2.3: id, call_id, booking_uid, status, start,
        company_id …; what the API does not know stays None)."""
        ...

    async def close(self) -> None: ...


@dataclass
class AdapterContext:
    """What an adapter is built with: the target, a shared HTTP session, its settings table."""

    target: Target
    http: aiohttp.ClientSession
    settings: Mapping[str, Any]


BUILTIN = {"voice": "harness.adapters.voice:VoiceAdapter"}


def load_adapter_class(spec: str) -> type[Any]:
    """`voice` or `package.module:Class` → the class (clear errors for every way it can fail)."""
    path = BUILTIN.get(spec, spec)
    module_name, sep, class_name = path.partition(":")
    if not sep or not module_name or not class_name:
        raise AdapterError(f"adapter {spec!r}: write 'package.module:Class' "
                           f"(or one of: {', '.join(BUILTIN)})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterError(f"adapter {spec!r}: cannot import {module_name} ({exc})") from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise AdapterError(f"adapter {spec!r}: {module_name} has no class {class_name}")
    for method in ("check", "book", "cancel", "reschedule", "appointments", "close"):
        if not callable(getattr(cls, method, None)):
            raise AdapterError(f"adapter {spec!r}: {class_name} has no {method}() method")
    return cls


__all__ = ["Adapter", "AdapterContext", "AdapterError", "Answer", "Attribution", "Request",
           "load_adapter_class"]
