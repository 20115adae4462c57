"""Cal.com bookings as the service reads them (the 2024-08-13 output shape)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from booking_service.calcom.errors import CalcomBadResponse

#: The years an instant from outside may fall in (bookings, webhooks, reconcile windows).
INSTANT_YEARS = (1970, 2199)


def parse_instant(value: object) -> datetime | None:
    """An ISO-8601 timestamp (`…Z`, `….000Z`, `+02:00`) as aware UTC; None if absent/unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # 9999-12-31T23:00-01:00 is past datetime.max in UTC
        return None
    # Year 1 or 9999 is no appointment: refused like any unreadable time, never imported.
    return parsed if INSTANT_YEARS[0] <= parsed.year <= INSTANT_YEARS[1] else None


def json_object(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (Cal.com's JSON is read leniently)."""
    return value if isinstance(value, dict) else {}


def json_list(value: object) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def json_text(value: object) -> str | None:
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def iso_z(instant: datetime) -> str:
    """`2025-10-20T12:00:00Z`: how the service writes UTC instants (to Cal.com and in answers)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class EventTypeShape:
    """How Cal.com assigns hosts for an event type (`GET /v2/event-types/{id}`)."""

    scheduling: str  # individual | round_robin | collective
    host_count: int

    @classmethod
    def from_api(cls, data: object) -> EventTypeShape | None:
        if not isinstance(data, dict):
            return None
        raw = str(data.get("schedulingType") or "").lower()
        scheduling = raw if raw in ("round_robin", "collective") else "individual"
        hosts = data.get("hosts") if isinstance(data.get("hosts"), list) else data.get("users")
        return cls(scheduling, len(hosts) if isinstance(hosts, list) and hosts else 1)


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class UpstreamBooking:
    uid: str
    id: int | None
    status: str  # accepted | pending | cancelled | rejected
    start: datetime
    end: datetime
    created_at: datetime | None
    updated_at: datetime | None
    event_type_id: int | None
    host_ids: list[int]
    attendees: list[Attendee]
    metadata: dict[str, Any]
    rescheduled_to_uid: str | None = None
    rescheduled_from_uid: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.status in ("accepted", "pending")

    @property
    def first_attendee(self) -> Attendee | None:
        return self.attendees[0] if self.attendees else None

    @classmethod
    def from_api(cls, data: object) -> UpstreamBooking:
        """Read a booking from `data` of a 2024-08-13 answer; `CalcomBadResponse` if unusable."""
        if not isinstance(data, dict):
            raise CalcomBadResponse("booking is not an object")
        uid = data.get("uid")
        start = parse_instant(data.get("start"))
        end = parse_instant(data.get("end"))
        if not isinstance(uid, str) or not uid or start is None:
            raise CalcomBadResponse("booking without uid or start")
        event_type = json_object(data.get("eventType"))
        event_type_id = data.get("eventTypeId", event_type.get("id"))
        hosts = json_list(data.get("hosts"))
        attendees = json_list(data.get("attendees"))
        metadata = json_object(data.get("metadata"))
        booking_id = data.get("id")
        return cls(
            uid=uid,
            id=booking_id if isinstance(booking_id, int) else None,
            status=str(data.get("status") or "accepted").lower(),
            start=start,
            end=end or start,
            created_at=parse_instant(data.get("createdAt")),
            updated_at=parse_instant(data.get("updatedAt")),
            event_type_id=event_type_id if isinstance(event_type_id, int) else None,
            host_ids=[
                h["id"] for h in hosts if isinstance(h, dict) and isinstance(h.get("id"), int)
            ],
            attendees=[
                Attendee(
                    name=str(a.get("name") or ""),
                    email=json_text(a.get("email")),
                    phone=json_text(a.get("phoneNumber")),
                )
                for a in attendees
                if isinstance(a, dict)
            ],
            metadata=metadata,
            rescheduled_to_uid=json_text(data.get("rescheduledToUid")),
            rescheduled_from_uid=json_text(data.get("rescheduledFromUid")),
            raw=data,
        )

    def details(self) -> dict[str, Any]:
        """What the service keeps of it in `appointments.booking_details` (JSON-safe)."""
        return {
            "id": self.id,
            "uid": self.uid,
            "status": self.status,
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "createdAt": iso_z(self.created_at) if self.created_at else None,
            "updatedAt": iso_z(self.updated_at) if self.updated_at else None,
            "eventTypeId": self.event_type_id,
            "hostIds": self.host_ids,
            "attendees": [
                {"name": a.name, "email": a.email, "phoneNumber": a.phone} for a in self.attendees
            ],
            "metadata": self.metadata,
        }
