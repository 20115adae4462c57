"""Plain records of the fake's world: hosts, event types, API keys, webhooks, bookings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SchedulingType = Literal["individual", "round_robin", "collective"]
BookingStatus = Literal["accepted", "pending", "cancelled", "rejected"]
ACTIVE_STATUSES: frozenset[str] = frozenset({"accepted", "pending"})

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One availability rule in the host's time zone: these weekdays, from start to end."""

    days: tuple[int, ...]  # 0 = Monday … 6 = Sunday (datetime.weekday())
    start_min: int  # minutes after local midnight
    end_min: int  # exclusive; up to 1440 ("24:00")


@dataclass(frozen=True, slots=True)
class Host:
    id: int
    username: str
    name: str
    email: str
    time_zone: str
    working_hours: tuple[WorkingHours, ...]


@dataclass(frozen=True, slots=True)
class EventType:
    id: int
    slug: str
    title: str
    length: int  # minutes
    scheduling_type: SchedulingType
    host_ids: tuple[int, ...]
    requires_confirmation: bool = False
    minimum_notice: int = 0  # minutes
    description: str = ""
    location: str = ""
    team_id: int | None = None

    @property
    def is_team(self) -> bool:
        return self.scheduling_type != "individual"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key: str
    host_id: int


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    slug: str
    name: str
    member_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """A platform OAuth client (`x-cal-client-id`); its managed users hold access tokens."""

    id: str
    name: str
    organization_id: int
    secret: str


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A managed user's access token: a Bearer without the `cal_` prefix."""

    token: str
    host_id: int
    client_id: str


@dataclass(slots=True)
class WebhookSubscription:
    id: int
    subscriber_url: str
    triggers: tuple[str, ...]
    active: bool = True
    secret: str | None = None
    payload_template: str | None = None
    owner_id: int | None = None  # None: a control-plane subscription that sees every booking


@dataclass(slots=True)
class Attendee:
    name: str
    email: str
    time_zone: str = "Europe/Berlin"
    phone_number: str | None = None
    language: str = "en"
    id: int = 0


@dataclass(slots=True)
class Booking:
    id: int
    uid: str
    event_type_id: int
    host_ids: tuple[int, ...]
    status: BookingStatus
    start: datetime
    end: datetime
    attendees: list[Attendee]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    title: str
    description: str = ""
    location: str = ""
    guests: tuple[str, ...] = ()  # a tuple: most bookings have none, and () is allocated once
    responses: dict[str, Any] = field(default_factory=dict)
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    cancellation_reason: str | None = None
    cancelled_by_email: str | None = None
    rejection_reason: str | None = None
    rescheduling_reason: str | None = None
    rescheduled_by_email: str | None = None
    origin: dict[str, Any] = field(default_factory=lambda: {"kind": "outside"})  # shared, read-only
    # Which unique-key formula Cal.com used for it: "host_slot" (today) or "attendee" (pre 2025-05).
    key_mode: str = "host_slot"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(slots=True)
class CreateRequest:
    """A booking request as the backend sees it, whatever wire version it came in."""

    event_type_id: int
    start: datetime
    attendee: Attendee
    length: int | None = None  # lengthInMinutes, or end - start for the 2024-06-14 body
    metadata: dict[str, Any] = field(default_factory=dict)
    guests: list[str] = field(default_factory=list)
    responses: dict[str, Any] = field(default_factory=dict)
    api_key_owner: int | None = None
    location: str | None = None
    reserved_slot_uid: str | None = None  # the caller's own slot reservation, consumed on commit


@dataclass(slots=True)
class Reservation:
    """A slot held for one caller (Cal.com's `SelectedSlots` row).

    It holds the slot while `release_at` is in the future on the fake's clock. `announced_until`
    is what the answer told the caller; it differs from `release_at` only under the
    `reservation_expire_early` fault.
    """

    uid: str
    seq: int
    event_type_id: int
    host_ids: tuple[int, ...]
    start: datetime
    end: datetime
    created_at: datetime
    release_at: datetime
    announced_until: datetime
    duration_min: int  # reservationDuration as asked (minutes)
    api: str  # "2024-09-04" (POST /v2/slots/reservations) or "2024-04-15" (POST /v2/slots/reserve)
    owner_id: int | None = None
    faults: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, datetime, datetime]:
        return (self.event_type_id, self.start, self.end)

    def holds(self, now: datetime) -> bool:
        return self.release_at > now
