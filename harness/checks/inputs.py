"""Neutral inputs of the checkers: what the service holds and what Cal.com (the fake) holds.

* :class:`ServiceView` — the service's appointments as its API shows them (contract §2.3),
  plus, when the database can be read, its audit log and processed webhook deliveries (§2.4).
* :class:`GroundTruth` — the fake's ``GET /_fake/state`` (§1.7): every upstream booking with its
  origin, and every webhook delivery attempt.

Each record keeps the strings it was given (evidence shows them as they were) and the instants
checkers compare (epoch seconds, so ``…08:00:00Z`` equals ``…08:00:00.000Z`` and ``+00:00``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

#: Cal.com statuses that hold a slot (contract §1.3).
ACTIVE_BOOKING_STATUSES: frozenset[str] = frozenset({"accepted", "pending"})
#: Local appointment statuses that hold a slot (contract §2.3).
ACTIVE_APPOINTMENT_STATUSES: frozenset[str] = frozenset({"scheduled", "pending"})


class InputError(ValueError):
    """A service view or ground truth that cannot be understood (the message says which)."""


@lru_cache(maxsize=1 << 18)
def instant(value: str | None) -> int | None:
    """Epoch seconds of an ISO-8601 time (naive times are UTC); ``None`` for missing or bad."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one (missing or malformed fields)."""
    return value if isinstance(value, Mapping) else {}


def _norm_name(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


@dataclass(slots=True)
class Appointment:
    """A local appointment (contract §2.3)."""

    id: int | str
    company_id: int | str | None
    call_id: str | None
    booking_uid: str | None
    status: str
    start: str
    end: str | None = None
    host_id: int | None = None
    event_type_id: int | None = None
    customer_id: int | str | None = None
    customer_name: str | None = None
    source: str | None = None
    branch_id: str | None = None
    start_s: int | None = field(init=False, default=None)
    end_s: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.start_s = instant(self.start)
        self.end_s = instant(self.end)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_APPOINTMENT_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Appointment:
        if not isinstance(data, Mapping) or "id" not in data:
            raise InputError(f"appointment without an id: {data!r:.200}")
        customer = data.get("customer") or {}
        return cls(
            id=data["id"], company_id=data.get("company_id"), call_id=data.get("call_id"),
            booking_uid=data.get("booking_uid"), status=str(data.get("status") or ""),
            start=str(data.get("start") or ""), end=data.get("end"), host_id=data.get("host_id"),
            event_type_id=data.get("event_type_id"),
            customer_id=customer.get("id") if isinstance(customer, Mapping) else None,
            customer_name=customer.get("name") if isinstance(customer, Mapping) else None,
            source=data.get("source"), branch_id=data.get("branch_id"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "company_id": self.company_id, "call_id": self.call_id,
            "booking_uid": self.booking_uid, "status": self.status, "start": self.start,
            "end": self.end, "host_id": self.host_id, "event_type_id": self.event_type_id,
            "customer": {"id": self.customer_id, "name": self.customer_name},
            "source": self.source,
        }


@dataclass(slots=True)
class AuditEntry:
    """One row of the service's ``audit_log`` (contract §2.4)."""

    appointment_id: int | str | None
    action: str
    source: str | None = None
    delivery_key: str | None = None
    at: str | None = None
    detail: Any = None

    @property
    def is_effect(self) -> bool:
        """Whether the row records a change (not a delivery noted and ignored).

        Actions naming a non-change (``…ignored``, ``…duplicate``, ``…rejected``, ``…skipped``,
        ``…noop``, ``…recorded``) are not effects.
        """
        return _is_effect_action(self.action)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEntry:
        if not isinstance(data, Mapping) or not data.get("action"):
            raise InputError(f"audit row without an action: {data!r:.200}")
        return cls(appointment_id=data.get("appointment_id"), action=str(data["action"]),
                   source=data.get("source"), delivery_key=data.get("delivery_key"),
                   at=None if data.get("at") is None else str(data.get("at")),
                   detail=data.get("detail"))

    def to_json(self) -> dict[str, Any]:
        return {"appointment_id": self.appointment_id, "action": self.action,
                "source": self.source, "delivery_key": self.delivery_key, "at": self.at,
                "detail": self.detail}


_NON_EFFECT_WORDS = ("ignored", "duplicate", "rejected", "skipped", "noop", "recorded")


@lru_cache(maxsize=1024)
def _is_effect_action(action: str) -> bool:
    lowered = action.lower()
    return not any(word in lowered for word in _NON_EFFECT_WORDS)


@dataclass(slots=True)
class ProcessedWebhook:
    """One row of the service's ``processed_webhooks`` (contract §2.4)."""

    delivery_key: str
    trigger_event: str | None = None
    booking_uid: str | None = None
    processed_at: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessedWebhook:
        if not isinstance(data, Mapping) or not data.get("delivery_key"):
            raise InputError(f"processed webhook without a delivery_key: {data!r:.200}")
        return cls(delivery_key=str(data["delivery_key"]),
                   trigger_event=data.get("trigger_event") or data.get("triggerEvent"),
                   booking_uid=data.get("booking_uid") or data.get("bookingUid"),
                   processed_at=data.get("processed_at"))

    def to_json(self) -> dict[str, Any]:
        return {"delivery_key": self.delivery_key, "trigger_event": self.trigger_event,
                "booking_uid": self.booking_uid, "processed_at": self.processed_at}


@dataclass(slots=True)
class ServiceView:
    """What the booking service holds. ``audit_log``/``processed_webhooks`` are ``None`` when
    the service's database could not be read (checks that need them are then skipped)."""

    appointments: list[Appointment]
    audit_log: list[AuditEntry] | None = None
    processed_webhooks: list[ProcessedWebhook] | None = None

    @classmethod
    def from_json(cls, appointments: Iterable[Mapping[str, Any]],
                  audit_log: Iterable[Mapping[str, Any]] | None = None,
                  processed_webhooks: Iterable[Mapping[str, Any]] | None = None) -> ServiceView:
        """Build from the service's JSON (``GET /api/appointments`` items, DB rows as dicts)."""
        return cls(
            appointments=[Appointment.from_json(a) for a in appointments],
            audit_log=None if audit_log is None else [AuditEntry.from_json(r) for r in audit_log],
            processed_webhooks=None if processed_webhooks is None
            else [ProcessedWebhook.from_json(r) for r in processed_webhooks],
        )


@dataclass(slots=True)
class UpstreamBooking:
    """A Cal.com booking as the fake's ground truth records it (contract §1.7)."""

    uid: str
    status: str
    start: str
    end: str
    host_ids: tuple[int, ...]
    call_id: str | None = None
    origin: str = "api"
    api_key_owner: int | None = None
    id: int | None = None
    event_type_id: int | None = None
    attendee_name: str | None = None
    attendee_email: str | None = None
    created_at: str | None = None
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    metadata: Mapping[str, Any] | None = None
    start_s: int | None = field(init=False, default=None)
    end_s: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.start_s = instant(self.start)
        self.end_s = instant(self.end)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_BOOKING_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any],
                  attribute: Callable[[Mapping[str, Any]], str | None] | None = None
                  ) -> UpstreamBooking:
        """`attribute` names the call a booking was made for (default: ``metadata.call_id``;
        harness/checks/attribution.py for services that attribute otherwise)."""
        if not isinstance(data, Mapping) or not data.get("uid"):
            raise InputError(f"ground-truth booking without a uid: {data!r:.200}")
        metadata = _mapping(data.get("metadata"))
        attendees = data.get("attendees") or []
        first = _mapping(attendees[0] if attendees else None)
        origin = _mapping(data.get("origin"))
        call_id = attribute(data) if attribute is not None else metadata.get("call_id")
        return cls(
            uid=str(data["uid"]), status=str(data.get("status") or "").lower(),
            start=str(data.get("start") or ""), end=str(data.get("end") or ""),
            host_ids=tuple(data.get("hostIds") or ()),
            call_id=str(call_id) if call_id is not None else None,
            origin=str(origin.get("kind") or "api"), api_key_owner=origin.get("api_key_owner"),
            id=data.get("id"), event_type_id=data.get("eventTypeId"),
            attendee_name=first.get("name"), attendee_email=first.get("email"),
            created_at=data.get("createdAt"), rescheduled_from_uid=data.get("rescheduledFromUid"),
            rescheduled_to_uid=data.get("rescheduledToUid"), metadata=metadata,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid, "id": self.id, "status": self.status, "start": self.start,
            "end": self.end, "hostIds": list(self.host_ids), "eventTypeId": self.event_type_id,
            "attendee": {"name": self.attendee_name, "email": self.attendee_email},
            "call_id": self.call_id, "origin": self.origin, "api_key_owner": self.api_key_owner,
            "createdAt": self.created_at, "rescheduledFromUid": self.rescheduled_from_uid,
            "rescheduledToUid": self.rescheduled_to_uid,
        }

    def attendee_matches(self, name: str | None) -> bool:
        """Case- and whitespace-insensitive name comparison (as the service's defense)."""
        return self.attendee_name == name or _norm_name(self.attendee_name) == _norm_name(name)


@dataclass(slots=True)
class WebhookDelivery:
    """One delivery attempt by the fake (contract §1.7)."""

    seq: int
    trigger_event: str
    booking_uid: str | None
    body_sha256: str
    outcome: str
    http_status: int | None = None
    copy: int = 1
    signature_valid: bool = True
    subscriber_url: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebhookDelivery:
        if not isinstance(data, Mapping) or not data.get("body_sha256"):
            raise InputError(f"webhook delivery without body_sha256: {data!r:.200}")
        return cls(seq=int(data.get("seq") or 0), trigger_event=str(data.get("triggerEvent") or ""),
                   booking_uid=data.get("bookingUid"), body_sha256=str(data["body_sha256"]),
                   outcome=str(data.get("outcome") or ""), http_status=data.get("http_status"),
                   copy=int(data.get("copy") or 1),
                   signature_valid=bool(data.get("signature_valid", True)),
                   subscriber_url=data.get("subscriberUrl"))

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "triggerEvent": self.trigger_event,
                "bookingUid": self.booking_uid, "body_sha256": self.body_sha256,
                "outcome": self.outcome, "http_status": self.http_status, "copy": self.copy,
                "signature_valid": self.signature_valid}


@dataclass(slots=True)
class GroundTruth:
    """The fake's state. ``webhook_deliveries`` is ``None`` when unknown."""

    bookings: list[UpstreamBooking]
    webhook_deliveries: list[WebhookDelivery] | None = None
    now: str | None = None

    @classmethod
    def from_json(cls, state: Mapping[str, Any],
                  attribute: Callable[[Mapping[str, Any]], str | None] | None = None
                  ) -> GroundTruth:
        """Build from ``GET /_fake/state`` (`attribute`: see `UpstreamBooking.from_json`)."""
        if not isinstance(state, Mapping) or not isinstance(state.get("bookings"), list):
            raise InputError("ground truth must be an object with a 'bookings' list")
        deliveries = state.get("webhook_deliveries")
        return cls(
            bookings=[UpstreamBooking.from_json(b, attribute) for b in state["bookings"]],
            webhook_deliveries=None if deliveries is None
            else [WebhookDelivery.from_json(d) for d in deliveries],
            now=state.get("now"),
        )
