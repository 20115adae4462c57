"""Webhook payloads, signing and the delivery queue model (pure; the wire's worker sends them).

Body: `JSON.stringify({triggerEvent, createdAt, payload})`; header `X-Cal-Signature-256` = hex
HMAC-SHA256 of the raw body with the subscription's secret, or `no-secret-provided`
(API-FACTS §5). One delivery per subscriber, no retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from fake_calcom.backend.models import Booking, EventType, Host
from fake_calcom.backend.timefmt import iso_ms, iso_seconds, zone

TRIGGERS = (
    "BOOKING_CREATED",
    "BOOKING_PAYMENT_INITIATED",
    "BOOKING_PAID",
    "BOOKING_RESCHEDULED",
    "BOOKING_REQUESTED",
    "BOOKING_CANCELLED",
    "BOOKING_REJECTED",
    "BOOKING_NO_SHOW_UPDATED",
    "FORM_SUBMITTED",
    "MEETING_ENDED",
    "MEETING_STARTED",
    "RECORDING_READY",
    "INSTANT_MEETING",
    "RECORDING_TRANSCRIPTION_GENERATED",
    "OOO_CREATED",
    "AFTER_HOSTS_CAL_VIDEO_NO_SHOW",
    "AFTER_GUESTS_CAL_VIDEO_NO_SHOW",
    "FORM_SUBMITTED_NO_EVENT",
)
NO_SECRET = "no-secret-provided"
WEBHOOK_VERSION = "2021-10-20"


def js_json(value: Any) -> bytes:
    """Bytes as `JSON.stringify` writes them (no spaces, non-ASCII kept): orjson, and the stdlib
    for what orjson refuses (non-string keys, integers past 64 bits)."""
    try:
        # A copy of exact size: orjson's buffer has kilobytes of spare room, and this body may
        # wait in the queue for a while.
        return bytes(memoryview(orjson.dumps(value)))
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str | None, body: bytes) -> str:
    if not secret:
        return NO_SECRET
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _utc_offset_minutes(moment: datetime, time_zone: str) -> int:
    try:
        offset = moment.astimezone(zone(time_zone)).utcoffset()
    except ValueError:
        return 0
    return int(offset.total_seconds() // 60) if offset else 0


def booking_payload(
    booking: Booking,
    event_type: EventType | None,
    hosts: list[Host],
    *,
    rescheduled_from: Booking | None = None,
) -> dict[str, Any]:
    """The `payload` Cal.com sends for booking triggers (CalendarEvent plus extras)."""
    organizer = hosts[0] if hosts else None
    slug = event_type.slug if event_type else ""
    title = event_type.title if event_type else booking.title
    attendees = []
    for attendee in booking.attendees:
        first, _, last = attendee.name.partition(" ")
        attendees.append(
            {
                "email": attendee.email,
                "name": attendee.name,
                "firstName": first,
                "lastName": last,
                "timeZone": attendee.time_zone,
                "phoneNumber": attendee.phone_number,
                "language": {"locale": attendee.language},
                "utcOffset": _utc_offset_minutes(booking.start, attendee.time_zone),
            }
        )
    responses: dict[str, Any] = {
        "name": {"label": "your_name", "value": booking.attendees[0].name if booking.attendees else ""},
        "email": {"label": "email_address", "value": booking.attendees[0].email if booking.attendees else ""},
        "location": {"label": "location", "value": {"optionValue": "", "value": booking.location}},
        "guests": {"label": "additional_guests", "value": list(booking.guests)},
    }
    payload: dict[str, Any] = {
        "type": slug,
        "title": booking.title,
        "description": booking.description,
        "additionalNotes": booking.responses.get("notes", ""),
        "customInputs": {},
        "startTime": iso_seconds(booking.start),
        "endTime": iso_seconds(booking.end),
        "organizer": None
        if organizer is None
        else {
            "id": organizer.id,
            "name": organizer.name,
            "email": organizer.email,
            "username": organizer.username,
            "timeZone": organizer.time_zone,
            "language": {"locale": "en"},
            "timeFormat": "h:mma",
            "utcOffset": _utc_offset_minutes(booking.start, organizer.time_zone),
        },
        "responses": responses,
        "userFieldsResponses": {},
        "attendees": attendees,
        "location": booking.location,
        "destinationCalendar": None,
        "hideCalendarNotes": False,
        "requiresConfirmation": bool(event_type and event_type.requires_confirmation),
        "eventTypeId": booking.event_type_id,
        "seatsShowAttendees": True,
        "seatsPerTimeSlot": None,
        "uid": booking.uid,
        "iCalUID": f"{booking.uid}@Cal.com",
        "appsStatus": [],
        "eventTitle": title,
        "eventDescription": event_type.description if event_type else "",
        "price": 0,
        "currency": "usd",
        "length": booking.duration_minutes,
        "bookingId": booking.id,
        "metadata": dict(booking.metadata),
        "status": booking.status.upper(),
        "smsReminderNumber": None,
    }
    if rescheduled_from is not None:
        payload.update(
            {
                "rescheduleId": rescheduled_from.id,
                "rescheduleUid": rescheduled_from.uid,
                "rescheduleStartTime": iso_seconds(rescheduled_from.start),
                "rescheduleEndTime": iso_seconds(rescheduled_from.end),
                "rescheduledBy": booking.rescheduled_by_email,
            }
        )
    if booking.status == "cancelled":
        payload["cancellationReason"] = booking.cancellation_reason
        payload["cancelledBy"] = booking.cancelled_by_email
    return payload


def webhook_body(trigger: str, created_at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    return {"triggerEvent": trigger, "createdAt": iso_ms(created_at), "payload": payload}


@dataclass(slots=True)
class Delivery:
    """One POST to one subscriber (a duplicated delivery has one record per copy)."""

    seq: int
    subscription_id: int
    subscriber_url: str
    trigger: str
    booking_uid: str
    body: bytes
    secret: str | None
    document: dict[str, Any]
    copy: int = 1
    outcome: str = "pending"  # pending | sent | failed | dropped
    http_status: int | None = None
    signature_valid: bool = True
    faults: list[str] = field(default_factory=list)
    error: str | None = None
    body_sha256: str | None = None  # set by `settle`, which lets the body go

    def settle(self) -> None:
        """Sent, failed or dropped, and copied if it was to be: from now on only the record
        (`ground_truth`) is read, so the body and its document are let go — a long run keeps
        kilobytes per booking otherwise."""
        if self.body_sha256 is None:
            self.body_sha256 = hashlib.sha256(self.body).hexdigest()
        self.body = b""
        self.document = {}

    def headers(self) -> dict[str, str]:
        signature = sign(self.secret, self.body)
        if not self.signature_valid:
            signature = hashlib.sha256(b"forged:" + self.body).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Cal-Signature-256": signature,
            "X-Cal-Webhook-Version": WEBHOOK_VERSION,
        }

    def ground_truth(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "subscriberUrl": self.subscriber_url,
            "triggerEvent": self.trigger,
            "bookingUid": self.booking_uid,
            "body_sha256": self.body_sha256 or hashlib.sha256(self.body).hexdigest(),
            "outcome": self.outcome,
            "http_status": self.http_status,
            "copy": self.copy,
            "signature_valid": self.signature_valid,
            "faults": list(self.faults),
        }


class WebhookQueue:
    """Deliveries waiting for the worker, and the record of every attempt (ground truth)."""

    def __init__(self) -> None:
        self.pending: deque[Delivery] = deque()
        self.records: list[Delivery] = []
        self._seq = 0
        self.notify: Callable[[], None] | None = None

    def enqueue(self, delivery_args: dict[str, Any]) -> Delivery:
        self._seq += 1
        delivery = Delivery(seq=self._seq, **delivery_args)
        self.pending.append(delivery)
        self.records.append(delivery)
        if self.notify is not None:
            self.notify()
        return delivery

    def add_copy(self, original: Delivery, copy: int) -> Delivery:
        """A further identical POST of `original` (the webhook_duplicate fault)."""
        self._seq += 1
        duplicate = Delivery(
            seq=self._seq,
            subscription_id=original.subscription_id,
            subscriber_url=original.subscriber_url,
            trigger=original.trigger,
            booking_uid=original.booking_uid,
            body=original.body,
            secret=original.secret,
            document=original.document,
            copy=copy,
            signature_valid=original.signature_valid,
            faults=list(original.faults),
        )
        self.records.append(duplicate)
        return duplicate

    def clear(self) -> None:
        self.pending.clear()
        self.records.clear()
        self._seq = 0

    def counts(self) -> dict[str, int]:
        counts = {"sent": 0, "failed": 0, "dropped": 0, "pending": 0}
        for record in self.records:
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        return counts
