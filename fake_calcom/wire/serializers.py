"""Records -> Cal.com JSON: bookings (2024-08-13 and 2024-04-15), slots, event types, me, webhooks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fake_calcom.backend.models import (
    WEEKDAYS,
    Booking,
    EventType,
    Host,
    OAuthClient,
    Reservation,
    Team,
    WebhookSubscription,
)
from fake_calcom.backend.store import Backend, booking_idempotency_key
from fake_calcom.backend.timefmt import iso_in_zone, iso_ms


def host_2024_08_13(host: Host) -> dict[str, Any]:
    return {
        "id": host.id,
        "name": host.name,
        "email": host.email,
        "username": host.username,
        "timeZone": host.time_zone,
    }


def booking_2024_08_13(booking: Booking, backend: Backend) -> dict[str, Any]:
    """`BookingOutput_2024_08_13`, fields in Cal.com's order; optional ones only when set."""
    event_type = backend.event_type(booking.event_type_id)
    data: dict[str, Any] = {
        "id": booking.id,
        "uid": booking.uid,
        "title": booking.title,
        "description": booking.description,
        "hosts": [host_2024_08_13(h) for h in backend.hosts_of(booking)],
        "status": booking.status,
    }
    if (booking.cancellation_reason is not None or booking.cancelled_by_email is not None
            or booking.rescheduling_reason is not None or booking.rescheduled_by_email is not None
            or booking.rescheduled_from_uid is not None or booking.rescheduled_to_uid is not None):
        for key, value in (  # a fresh accepted booking has none of them: no tuple built per render
            ("cancellationReason", booking.cancellation_reason),
            ("cancelledByEmail", booking.cancelled_by_email),
            ("reschedulingReason", booking.rescheduling_reason),
            ("rescheduledByEmail", booking.rescheduled_by_email),
            ("rescheduledFromUid", booking.rescheduled_from_uid),
            ("rescheduledToUid", booking.rescheduled_to_uid),
        ):
            if value is not None:
                data[key] = value
    attendees = []
    for attendee in booking.attendees:
        entry: dict[str, Any] = {
            "name": attendee.name,
            "email": attendee.email,
            "timeZone": attendee.time_zone,
            "language": attendee.language,
            "absent": False,
        }
        if attendee.phone_number:
            entry["phoneNumber"] = attendee.phone_number
        attendees.append(entry)
    created = iso_ms(booking.created_at)  # formatted once: a booking never changed has updatedAt == createdAt
    data.update(
        {
            "start": iso_ms(booking.start),
            "end": iso_ms(booking.end),
            "duration": booking.duration_minutes,
            "eventTypeId": booking.event_type_id,
            "eventType": {"id": booking.event_type_id, "slug": event_type.slug if event_type else ""},
            "meetingUrl": booking.location,
            "location": booking.location,
            "absentHost": False,
            "createdAt": created,
            "updatedAt": created if booking.updated_at == booking.created_at else iso_ms(booking.updated_at),
            "metadata": booking.metadata,
            "icsUid": f"{booking.uid}@Cal.com",
            "attendees": attendees,
            "guests": list(booking.guests),
            "bookingFieldsResponses": booking.responses,
        }
    )
    return data


_LEGACY_STATUS = {"accepted": "ACCEPTED", "pending": "PENDING", "cancelled": "CANCELLED", "rejected": "REJECTED"}


def booking_2024_04_15(booking: Booking, backend: Backend) -> dict[str, Any]:
    """The flat booking row the 2024-04-15 controller returns (handleNewBooking's result)."""
    hosts = backend.hosts_of(booking)
    organizer = hosts[0] if hosts else None
    event_type = backend.event_type(booking.event_type_id)
    return {
        "id": booking.id,
        "uid": booking.uid,
        "idempotencyKey": booking_idempotency_key(booking),
        "userId": organizer.id if organizer else None,
        "userPrimaryEmail": organizer.email if organizer else None,
        "eventTypeId": booking.event_type_id,
        "title": booking.title,
        "description": booking.description,
        "customInputs": {},
        "responses": booking.responses,
        "startTime": iso_ms(booking.start),
        "endTime": iso_ms(booking.end),
        "location": booking.location,
        "createdAt": iso_ms(booking.created_at),
        "updatedAt": iso_ms(booking.updated_at),
        "status": _LEGACY_STATUS[booking.status],
        "paid": False,
        "metadata": booking.metadata,
        "cancellationReason": booking.cancellation_reason,
        "rejectionReason": None,
        "fromReschedule": booking.rescheduled_from_uid,
        "rescheduled": bool(booking.rescheduled_to_uid) or None,
        "recurringEventId": None,
        "smsReminderNumber": None,
        "iCalUID": f"{booking.uid}@Cal.com",
        "iCalSequence": 0,
        "rating": None,
        "noShowHost": False,
        "attendees": [
            {
                "id": a.id,
                "email": a.email,
                "name": a.name,
                "timeZone": a.time_zone,
                "locale": a.language,
                "phoneNumber": a.phone_number,
                "bookingId": booking.id,
                "noShow": False,
            }
            for a in booking.attendees
        ],
        "user": None
        if organizer is None
        else {
            "id": organizer.id,
            "name": organizer.name,
            "email": organizer.email,
            "username": organizer.username,
            "timeZone": organizer.time_zone,
        },
        "eventType": None
        if event_type is None
        else {
            "id": event_type.id,
            "slug": event_type.slug,
            "eventName": None,
            "price": 0,
            "currency": "usd",
            "metadata": {},
            "recurringEvent": None,
            "seatsShowAttendees": False,
            "seatsShowAvailabilityCount": True,
            "team": None,
        },
        "references": [],
        "payment": [],
        "isRecorded": False,
        "seatsReferences": [],
    }


# --------------------------------------------------------------------------- slots


_SLOT_TEXT: dict[tuple[datetime, str | None], str] = {}


def _slot_text(moment: datetime, zone: ZoneInfo | None) -> str:
    """iso_in_zone, memoised: slot queries render the same instants over and over."""
    key = (moment, zone.key if zone is not None else None)
    text = _SLOT_TEXT.get(key)
    if text is None:
        if len(_SLOT_TEXT) > 100_000:
            _SLOT_TEXT.clear()
        text = _SLOT_TEXT[key] = iso_in_zone(moment, zone)
    return text


def slots_2024_09_04(
    starts: list[datetime], zone: ZoneInfo | None, length: int, *, ranged: bool
) -> dict[str, list[dict[str, str]]]:
    """`{"2050-09-05": [{"start": "…"}]}`; keys are dates in the asked time zone."""
    grouped: dict[str, list[dict[str, str]]] = {}
    step = timedelta(minutes=length)
    for start in starts:
        text = _slot_text(start, zone)
        entry = {"start": text}
        if ranged:
            entry["end"] = _slot_text(start + step, zone)
        grouped.setdefault(text[:10], []).append(entry)  # the local date is the text's prefix
    return grouped


def slots_legacy(
    starts: list[datetime], zone: ZoneInfo | None, length: int, *, ranged: bool
) -> dict[str, Any]:
    """`{"slots": {"2024-09-25": [{"time": "…Z"}]}}` (times in UTC, days in the asked zone)."""
    grouped: dict[str, list[dict[str, str]]] = {}
    step = timedelta(minutes=length)
    for start in starts:
        key = _slot_text(start, zone)[:10]
        if ranged:
            entry = {"startTime": _slot_text(start, None), "endTime": _slot_text(start + step, None)}
        else:
            entry = {"time": _slot_text(start, None)}
        grouped.setdefault(key, []).append(entry)
    return {"slots": grouped}


# --------------------------------------------------------------------------- event types

_BOOKING_FIELDS: list[dict[str, Any]] = [
    {"type": "name", "slug": "name", "isDefault": True, "required": True, "label": "your_name"},
    {"type": "email", "slug": "email", "isDefault": True, "required": True, "label": "email_address"},
    {
        "type": "radioInput",
        "slug": "location",
        "isDefault": True,
        "required": False,
        "hidden": False,
    },
    {"type": "textarea", "slug": "notes", "isDefault": True, "required": False, "hidden": False},
    {"type": "multiemail", "slug": "guests", "isDefault": True, "required": False, "hidden": False},
    {"type": "textarea", "slug": "rescheduleReason", "isDefault": True, "required": False, "hidden": False},
]


def event_type_2024_06_14(event_type: EventType, backend: Backend) -> dict[str, Any]:
    """`EventTypeOutput_2024_06_14` (team event types carry their hosts as `users`)."""
    hosts = [backend.data.hosts[h] for h in event_type.host_ids if h in backend.data.hosts]
    locations: list[dict[str, Any]] = (
        [{"type": "address", "address": event_type.location, "public": True}] if event_type.location else []
    )
    data: dict[str, Any] = {
        "id": event_type.id,
        "lengthInMinutes": event_type.length,
        "title": event_type.title,
        "slug": event_type.slug,
        "description": event_type.description,
        "locations": locations,
        "bookingFields": [dict(f) for f in _BOOKING_FIELDS],
        "disableGuests": False,
        "slotInterval": None,
        "minimumBookingNotice": event_type.minimum_notice,
        "beforeEventBuffer": 0,
        "afterEventBuffer": 0,
        "recurrence": None,
        "metadata": {},
        "price": 0,
        "currency": "usd",
        "lockTimeZoneToggleOnBookingPage": False,
        "seatsPerTimeSlot": None,
        "forwardParamsSuccessRedirect": None,
        "successRedirectUrl": None,
        "isInstantEvent": False,
        "seatsShowAvailabilityCount": True,
        "scheduleId": None,
        "requiresConfirmation": event_type.requires_confirmation,
        "schedulingType": event_type.scheduling_type.upper() if event_type.is_team else None,
        "ownerId": hosts[0].id if hosts else 0,
        "users": [h.username for h in hosts],
    }
    return data


def event_type_groups_2024_04_15(owner: Host, event_types: list[EventType]) -> dict[str, Any]:
    """The 2024-04-15 `data.eventTypeGroups[]` shape published clients read."""
    return {
        "eventTypeGroups": [
            {
                "teamId": None,
                "bookerUrl": "https://cal.com",
                "membershipRole": None,
                "profile": {"slug": owner.username, "name": owner.name, "image": ""},
                "metadata": {"membershipCount": 1, "readOnly": False},
                "id": owner.id,
                "eventTypes": [
                    {
                        "id": et.id,
                        "title": et.title,
                        "slug": et.slug,
                        "length": et.length,
                        "description": et.description,
                        "hidden": False,
                        "requiresConfirmation": et.requires_confirmation,
                        "schedulingType": et.scheduling_type.upper() if et.is_team else None,
                        "minimumBookingNotice": et.minimum_notice,
                        "users": [{"id": h, "username": None} for h in et.host_ids],
                    }
                    for et in event_types
                ],
            }
        ],
        "profiles": [{"slug": owner.username, "name": owner.name, "image": ""}],
    }


# --------------------------------------------------------------------------- me, webhooks


def schedule_id(host: Host) -> int:
    """Each host has one (default) schedule: its working hours."""
    return 3000 + host.id


def me(host: Host, updates: dict[str, Any] | None = None) -> dict[str, Any]:
    """`MeOutput`, with what PATCH /v2/me changed."""
    updates = updates or {}
    return {
        "id": host.id,
        "username": host.username,
        "email": updates.get("email", host.email),
        "timeFormat": updates.get("timeFormat", 24),
        "defaultScheduleId": updates.get("defaultScheduleId", schedule_id(host)),
        "weekStart": updates.get("weekStart", "Monday"),
        "timeZone": updates.get("timeZone", host.time_zone),
        "organizationId": None,
        "name": updates.get("name", host.name),
    }


# --------------------------------------------------------------------------- reservations


def reservation_2024_09_04(reservation: Reservation, *, created: bool = True) -> dict[str, Any]:
    """`ReserveSlotOutput_2024_09_04` (luxon UTC ISO); a GET carries no reservationDuration."""
    data: dict[str, Any] = {
        "eventTypeId": reservation.event_type_id,
        "slotStart": iso_ms(reservation.start),
        "slotEnd": iso_ms(reservation.end),
        "slotDuration": int((reservation.end - reservation.start).total_seconds() // 60),
    }
    if created:
        data["reservationDuration"] = reservation.duration_min
    data["reservationUid"] = reservation.uid
    data["reservationUntil"] = iso_ms(reservation.announced_until)
    return data


# --------------------------------------------------------------------------- schedules


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def schedule_2024_06_11(host: Host) -> dict[str, Any]:
    """`ScheduleOutput_2024_06_11`: the host's working hours as its default schedule."""
    return {
        "id": schedule_id(host),
        "ownerId": host.id,
        "name": "Working Hours",
        "timeZone": host.time_zone,
        "availability": [
            {"days": [WEEKDAYS[d] for d in rule.days], "startTime": _hhmm(rule.start_min), "endTime": _hhmm(rule.end_min)}
            for rule in host.working_hours
        ],
        "isDefault": True,
        "overrides": [],
    }


def _epoch_time(minutes: int) -> str:
    """Cal.com stores availability times as a time on 1970-01-01 (UTC)."""
    minutes = min(minutes, 1439)  # "24:00" is stored as 23:59
    return f"1970-01-01T{_hhmm(minutes)}:00.000Z"


def schedule_2024_04_15(host: Host) -> dict[str, Any]:
    """The 2024-04-15 `ScheduleOutput` (days 0 = Sunday, working hours in minutes)."""
    sunday_first = [(d + 1) % 7 for d in range(7)]  # datetime.weekday() -> JS getDay()
    availability: list[list[dict[str, Any]]] = [[] for _ in range(7)]
    for rule in host.working_hours:
        for day in rule.days:
            availability[sunday_first[day]].append(
                {"userId": host.id, "start": _epoch_time(rule.start_min), "end": _epoch_time(rule.end_min)}
            )
    return {
        "id": schedule_id(host),
        "name": "Working Hours",
        "isManaged": False,
        "workingHours": [
            {
                "days": sorted(sunday_first[d] for d in rule.days),
                "startTime": rule.start_min,
                "endTime": rule.end_min,
                "userId": host.id,
            }
            for rule in host.working_hours
        ],
        "schedule": [
            {
                "id": schedule_id(host) * 10 + index,
                "userId": host.id,
                "eventTypeId": None,
                "days": sorted(sunday_first[d] for d in rule.days),
                "startTime": _epoch_time(rule.start_min),
                "endTime": _epoch_time(rule.end_min),
                "date": None,
                "scheduleId": schedule_id(host),
            }
            for index, rule in enumerate(host.working_hours)
        ],
        "availability": availability,
        "timeZone": host.time_zone,
        "dateOverrides": [],
        "isDefault": True,
        "isLastSchedule": True,
        "readOnly": False,
    }


# --------------------------------------------------------------------------- teams, provider

_TEAM_SCHEDULING = {"round_robin": "roundRobin", "collective": "collective"}


def team_event_type_2024_06_14(event_type: EventType, team: Team, backend: Backend, hosts_limit: int | None) -> dict[str, Any]:
    """`TeamEventTypeOutput_2024_06_14` (GET /v2/teams/{teamId}/event-types)."""
    data = event_type_2024_06_14(event_type, backend)
    data.pop("users", None)
    hosts = [backend.data.hosts[h] for h in event_type.host_ids if h in backend.data.hosts]
    if hosts_limit is not None:
        hosts = hosts[: max(hosts_limit, 0)]
    data.update(
        {
            "ownerId": None,
            "teamId": team.id,
            "parentEventTypeId": None,
            "hosts": [
                {"userId": h.id, "name": h.name, "mandatory": False, "priority": "medium", "avatarUrl": None}
                for h in hosts
            ],
            "assignAllTeamMembers": False,
            "schedulingType": _TEAM_SCHEDULING.get(event_type.scheduling_type, "collective"),
            "team": {"id": team.id, "slug": team.slug, "name": team.name},
        }
    )
    return data


def provider_client(client: OAuthClient) -> dict[str, Any]:
    return {"clientId": client.id, "organizationId": client.organization_id, "name": client.name}


def webhook(subscription: WebhookSubscription) -> dict[str, Any]:
    data: dict[str, Any] = {
        "payloadTemplate": subscription.payload_template,
        "userId": subscription.owner_id,
        "id": subscription.id,
        "triggers": list(subscription.triggers),
        "subscriberUrl": subscription.subscriber_url,
        "active": subscription.active,
    }
    if subscription.secret is not None:
        data["secret"] = subscription.secret
    return data
