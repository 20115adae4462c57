"""Strict request validation with Cal.com's messages (class-validator + forbidNonWhitelisted).

Errors read `"<prop> property is wrong, <constraint>"`; several are joined with `", "`; an
unknown field is `"<prop> property is wrong, property <prop> should not exist"` (the shape seen
in real Cal.com answers, API-FACTS §1.1).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fake_calcom.backend.errors import BadRequest
from fake_calcom.backend.models import Attendee, CreateRequest
from fake_calcom.backend.timefmt import is_time_zone, parse_iso
from fake_calcom.backend.webhooks import TRIGGERS

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
LANGUAGES = frozenset(
    ["ar", "ca", "de", "es", "eu", "he", "id", "ja", "lv", "pl", "ro", "sr", "th", "vi", "az", "cs", "el", "es-419", "fi", "hr", "it", "km", "nl", "pt", "ru", "sv", "tr", "zh-CN", "bg", "da", "en", "et", "fr", "hu", "iw", "ko", "no", "pt-BR", "sk", "ta", "uk", "zh-TW"]
)
METADATA_MESSAGE = (
    "Metadata must have at most 50 keys, each key up to 40 characters, and string values up to "
    "500 characters."
)


class Problems:
    """Collects validation problems and raises them as one BadRequestException."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, prop: str, message: str) -> None:
        self.items.append(f"{prop} property is wrong, {message}")

    def unknown(self, body: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
        for key in body:
            if key not in allowed:
                self.add(prefix + key, f"property {prefix + key} should not exist")

    def raise_if_any(self) -> None:
        if self.items:
            raise BadRequest(", ".join(self.items))


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(EMAIL_RE.match(value))


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def check_metadata(value: Any, problems: Problems) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add("metadata", "metadata must be an object")
        return {}
    if len(value) > 50 or any(
        len(k) > 40 or (isinstance(v, str) and len(v) > 500) for k, v in value.items()
    ):
        problems.add("metadata", METADATA_MESSAGE)
    return value


def require_body(body: Any) -> dict[str, Any]:
    if body is None:
        raise BadRequest("Body is required")
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    return body


# --------------------------------------------------------------------------- attendees


@dataclass(frozen=True, slots=True)
class AttendeeRules:
    """How a create version words and bounds its attendee. The checks are one (`AttendeeCheck`);
    what the two versions do differently is a field here, not a second copy of the checks."""

    prop: str  # where the attendee's problems are reported
    name_message: str
    split_name: bool  # {"firstName", "lastName"} is a name too
    email_message: str
    blank_email_allowed: bool  # a falsy e-mail counts as none rather than as a bad one
    phone_message: str
    e164_phone: bool  # "+4930…" only, rather than any string
    time_zone_prop: str
    language_prop: str
    unknown_language_is_english: bool  # rather than refused (then any string passes)


# `attendee: {name, email?, phoneNumber?, timeZone, language?}`, checked by class-validator.
ATTENDEE_2024_08_13 = AttendeeRules(
    prop="attendee",
    name_message="name must be a string",
    split_name=False,
    email_message="email must be an email",
    blank_email_allowed=False,
    phone_message="phoneNumber must be a valid phone number",
    e164_phone=True,
    time_zone_prop="attendee",
    language_prop="attendee",
    unknown_language_is_english=False,
)
# `responses: {name, email?, attendeePhoneNumber?}` plus top-level `timeZone` and `language`,
# checked by handleNewBooking's booking-field validation.
ATTENDEE_2024_04_15 = AttendeeRules(
    prop="responses",
    name_message="Name must be either a non-empty string or an object with non-empty firstName and lastName",
    split_name=True,
    email_message="Invalid response email",
    blank_email_allowed=True,
    phone_message="attendeePhoneNumber must be a string",
    e164_phone=False,
    time_zone_prop="timeZone",
    language_prop="language",
    unknown_language_is_english=True,
)


def _booking_name(value: Any, *, split: bool) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if split and isinstance(value, dict) and isinstance(value.get("firstName"), str) and value["firstName"].strip():
        last = value.get("lastName") if isinstance(value.get("lastName"), str) else ""
        return f"{value['firstName']} {last}".strip()
    return None


class AttendeeCheck:
    """The attendee checks of both create versions, each adding its problem in the version's words.

    Each version calls them where its own order puts them (the joined message keeps that order),
    then builds the attendee with `attendee` once `Problems.raise_if_any` has passed.
    """

    def __init__(self, rules: AttendeeRules, problems: Problems) -> None:
        self.rules = rules
        self.problems = problems

    def name(self, value: Any) -> str | None:
        name = _booking_name(value, split=self.rules.split_name)
        if name is None:
            self.problems.add(self.rules.prop, self.rules.name_message)
        return name

    def email(self, value: Any) -> Any:
        given = bool(value) if self.rules.blank_email_allowed else value is not None
        if given and not _is_email(value):
            self.problems.add(self.rules.prop, self.rules.email_message)
        return value

    def phone(self, value: Any) -> Any:
        if value is not None and not (
            isinstance(value, str) and (not self.rules.e164_phone or PHONE_RE.match(value))
        ):
            self.problems.add(self.rules.prop, self.rules.phone_message)
        return value

    def time_zone(self, value: Any) -> str | None:
        if not is_time_zone(value):
            self.problems.add(self.rules.time_zone_prop, "timeZone must be a valid IANA time-zone")
            return None
        return value

    def language(self, value: Any) -> str:
        if self.rules.unknown_language_is_english:
            if not isinstance(value, str):
                self.problems.add(self.rules.language_prop, "language must be a string")
                return "en"
            return value if value in LANGUAGES else "en"
        # A list or an object is not hashable: test the type first (a TypeError was a 500).
        if not isinstance(value, str) or value not in LANGUAGES:
            self.problems.add(
                self.rules.language_prop,
                f"language must be one of the following values: {', '.join(sorted(LANGUAGES))}",
            )
        return value

    @staticmethod
    def attendee(name: str | None, email: Any, phone: Any, time_zone: str | None, language: str) -> Attendee:
        """The attendee, once every value passed its check (`Problems.raise_if_any` did not raise)."""
        assert name is not None
        assert time_zone is not None
        # The zone name is one of a few hundred valid ones: one string for all who share it.
        return Attendee(name=name, email=email or "", time_zone=sys.intern(time_zone), phone_number=phone,
                        language=language)


def _responses(responses: dict[str, Any], attendee: Attendee, guests: list[str]) -> dict[str, Any]:
    """The booking-field responses Cal.com stores: those sent, with the attendee's and the guests."""
    return {**responses, "name": attendee.name, "email": attendee.email, "guests": list(guests)}


# --------------------------------------------------------------------------- bookings 2024-08-13

CREATE_2024_08_13_FIELDS = frozenset(
    {
        "start",
        "attendee",
        "eventTypeId",
        "eventTypeSlug",
        "username",
        "teamSlug",
        "organizationSlug",
        "lengthInMinutes",
        "guests",
        "location",
        "meetingUrl",
        "metadata",
        "bookingFieldsResponses",
        "routing",
        "emailVerificationCode",
        "instant",
        "recurrenceCount",
        "reservedSlotUid",  # newer Cal.com: book with one's own slot reservation
    }
)
ATTENDEE_FIELDS = frozenset({"name", "email", "timeZone", "phoneNumber", "language"})


@dataclass(slots=True)
class CreateInput:
    """A validated create body; the event type is still to be resolved (id or slug)."""

    request: CreateRequest
    event_type_id: int | None
    event_type_slug: str | None
    username: str | None
    team_slug: str | None
    wants_length: bool
    reschedule_uid: str | None = None
    rescheduled_by: str | None = None
    end: datetime | None = None


def _location(value: Any, problems: Problems) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        for key in ("address", "link", "phone", "integration", "location"):
            if isinstance(value.get(key), str):
                return value[key]
        return value["type"]
    problems.add("location", "location must be a string or a location object with a type")
    return None


# What a well-formed create usually carries; a body with anything else takes the full path.
LEAN_CREATE_FIELDS = frozenset({"start", "attendee", "eventTypeId", "metadata", "location", "reservedSlotUid"})
# `2031-01-06T09:00:00Z`, `…:00.000Z`: the shapes `toISOString()` and `%Y-%m-%dT%H:%M:%SZ` write.
LEAN_START_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z")


def lean_create_2024_08_13(body: Any) -> CreateInput | None:
    """The create of a well-formed common body, or None for anything else (the full path then
    runs and gives Cal.com's messages). It accepts only what the full path accepts and builds
    the same request: every check it makes is one of the full path's, on fewer shapes."""
    if not isinstance(body, dict) or not body.keys() <= LEAN_CREATE_FIELDS:
        return None
    start_text = body.get("start")
    attendee_raw = body.get("attendee")
    event_type_id = body.get("eventTypeId")
    if not (isinstance(start_text, str) and LEAN_START_RE.fullmatch(start_text)
            and isinstance(attendee_raw, dict) and isinstance(event_type_id, int)
            and not isinstance(event_type_id, bool)
            and attendee_raw.keys() <= ATTENDEE_FIELDS):
        return None
    metadata = body.get("metadata")
    location = body.get("location")
    reserved = body.get("reservedSlotUid")
    if not ((metadata is None or isinstance(metadata, dict)) and (location is None or isinstance(location, str))
            and (reserved is None or isinstance(reserved, str))):
        return None
    problems = Problems()
    check = AttendeeCheck(ATTENDEE_2024_08_13, problems)
    email = attendee_raw.get("email")
    phone = attendee_raw.get("phoneNumber")
    if email is None and phone is None:
        return None
    name = check.name(attendee_raw.get("name"))
    check.email(email)
    check.phone(phone)
    time_zone = check.time_zone(attendee_raw.get("timeZone"))
    language = check.language(attendee_raw.get("language", "en"))
    metadata = check_metadata(metadata, problems)
    if problems.items:
        return None
    try:
        start = parse_iso(start_text)
    except ValueError:  # the shape of a date, not a date (month 13): the full path words it
        return None
    attendee = AttendeeCheck.attendee(name, email, phone, time_zone, language)
    responses = {"name": attendee.name, "email": attendee.email, "guests": []}
    if attendee.phone_number:
        responses["attendeePhoneNumber"] = attendee.phone_number
    return CreateInput(
        request=CreateRequest(
            event_type_id=event_type_id,
            start=start,
            attendee=attendee,
            metadata=metadata,
            responses=responses,
            location=location,
            reserved_slot_uid=reserved,
        ),
        event_type_id=event_type_id,
        event_type_slug=None,
        username=None,
        team_slug=None,
        wants_length=False,
    )


def create_2024_08_13(body: Any) -> CreateInput:
    """A 2024-08-13 create body, validated: the lean path when it can, else the full one."""
    lean = lean_create_2024_08_13(body)
    return lean if lean is not None else full_create_2024_08_13(body)


def full_create_2024_08_13(body: Any) -> CreateInput:
    """Every check of the 2024-08-13 create, with Cal.com's messages."""
    body = require_body(body)
    problems = Problems()
    problems.unknown(body, CREATE_2024_08_13_FIELDS)
    start = _iso(body.get("start"))
    if start is None:
        problems.add("start", "start must be a valid ISO 8601 date string")
    attendee_raw = body.get("attendee")
    name = email = phone = time_zone = None
    language = "en"
    if not isinstance(attendee_raw, dict):
        problems.add("attendee", "attendee must be an object")
    else:
        problems.unknown(attendee_raw, ATTENDEE_FIELDS, prefix="attendee.")
        check = AttendeeCheck(ATTENDEE_2024_08_13, problems)
        name = check.name(attendee_raw.get("name"))
        if attendee_raw.get("email") is None and attendee_raw.get("phoneNumber") is None:
            problems.add("attendee", "attendee email or phone property is wrong")  # this version only
        email = check.email(attendee_raw.get("email"))
        phone = check.phone(attendee_raw.get("phoneNumber"))
        time_zone = check.time_zone(attendee_raw.get("timeZone"))
        language = check.language(attendee_raw.get("language", "en"))
    event_type_id = body.get("eventTypeId")
    if event_type_id is not None and not is_int(event_type_id):
        problems.add("eventTypeId", "eventTypeId must be an integer number")
    for key in ("eventTypeSlug", "username", "teamSlug", "organizationSlug", "emailVerificationCode", "meetingUrl"):
        if key in body and not isinstance(body[key], str):
            problems.add(key, f"{key} must be a string")
    if event_type_id is None and not (
        body.get("eventTypeSlug") and (body.get("username") or body.get("teamSlug"))
    ):
        problems.add(
            "eventTypeId",
            "eventTypeId must be an integer number (or provide eventTypeSlug with username or teamSlug)",
        )
    length = body.get("lengthInMinutes")
    if length is not None and (not is_int(length) or length < 1):
        problems.add("lengthInMinutes", "lengthInMinutes must not be less than 1")
    guests = body.get("guests", [])
    if not isinstance(guests, list) or not all(_is_email(g) for g in guests):
        problems.add("guests", "each value in guests must be an email")
        guests = []
    metadata = check_metadata(body.get("metadata"), problems)
    responses = body.get("bookingFieldsResponses", {})
    if not isinstance(responses, dict):
        problems.add("bookingFieldsResponses", "bookingFieldsResponses must be an object")
        responses = {}
    location = _location(body.get("location"), problems)
    if "instant" in body and not isinstance(body["instant"], bool):
        problems.add("instant", "instant must be a boolean value")
    if "recurrenceCount" in body and not is_int(body["recurrenceCount"]):
        problems.add("recurrenceCount", "recurrenceCount must be an integer number")
    reserved = reserved_slot_uid(body, problems)
    problems.raise_if_any()
    assert start is not None
    attendee = AttendeeCheck.attendee(name, email, phone, time_zone, language)
    if body.get("instant"):
        raise BadRequest("Instant bookings are only supported for team event types with instant meetings enabled.")
    if body.get("recurrenceCount"):
        raise BadRequest("recurrenceCount can only be provided for recurring event types.")
    full_responses = _responses(responses, attendee, guests)
    if attendee.phone_number:
        full_responses["attendeePhoneNumber"] = attendee.phone_number
    return CreateInput(
        request=CreateRequest(
            event_type_id=event_type_id or 0,
            start=start,
            attendee=attendee,
            length=length,
            metadata=metadata,
            guests=list(guests),
            responses=full_responses,
            location=location,
            reserved_slot_uid=reserved,
        ),
        event_type_id=event_type_id,
        event_type_slug=body.get("eventTypeSlug"),
        username=body.get("username"),
        team_slug=body.get("teamSlug"),
        wants_length=length is not None,
    )


# --------------------------------------------------------------------------- bookings 2024-04-15

# The 2024-04-15 controller uses the global ValidationPipe (whitelist without
# forbidNonWhitelisted): unknown fields are stripped, not refused.
RESPONSE_FIELDS = frozenset({"name", "email", "guests", "location", "notes", "attendeePhoneNumber"})


def create_2024_04_15(body: Any) -> CreateInput:
    body = require_body(body)
    problems = Problems()
    check = AttendeeCheck(ATTENDEE_2024_04_15, problems)
    start = _iso(body.get("start"))
    if not isinstance(body.get("start"), str):
        problems.add("start", "start must be a string")
    elif start is None:
        problems.add("start", "start must be a valid ISO 8601 date string")
    end = None
    if body.get("end") is not None:
        end = _iso(body.get("end"))
        if end is None:
            problems.add("end", "end must be a string")
    event_type_id = body.get("eventTypeId")
    if not isinstance(event_type_id, int | float) or isinstance(event_type_id, bool):
        problems.add("eventTypeId", "eventTypeId must be a number conforming to the specified constraints")
    time_zone = check.time_zone(body.get("timeZone"))
    language = check.language(body.get("language"))
    if not isinstance(body.get("metadata"), dict):
        problems.add("metadata", "metadata must be an object")
    metadata = check_metadata(body.get("metadata"), problems) if isinstance(body.get("metadata"), dict) else {}
    for key in ("eventTypeSlug", "rescheduleUid", "bookingUid", "orgSlug", "locationUrl"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.add(key, f"{key} must be a string")
    rescheduled_by = body.get("rescheduledBy")
    if rescheduled_by and not _is_email(rescheduled_by):
        problems.add("rescheduledBy", "Invalid rescheduledBy email format")
    responses_raw = body.get("responses")
    name = email = phone = None
    guests: list[str] = []
    responses: dict[str, Any] = {}
    if not isinstance(responses_raw, dict):
        problems.add("responses", "responses must be an object")
    else:
        responses = {k: v for k, v in responses_raw.items() if k in RESPONSE_FIELDS}
        name = check.name(responses_raw.get("name"))
        email = check.email(responses_raw.get("email"))
        raw_guests = responses_raw.get("guests") or []
        if not isinstance(raw_guests, list) or not all(isinstance(g, str) for g in raw_guests):
            problems.add("responses", "each value in guests must be a string")
        else:
            guests = raw_guests
        phone = check.phone(responses_raw.get("attendeePhoneNumber"))
        if responses_raw.get("notes") is not None and not isinstance(responses_raw["notes"], str):
            problems.add("responses", "notes must be a string")
    reserved = reserved_slot_uid(body, problems)
    problems.raise_if_any()
    assert start is not None
    if not email and not phone:  # this version's own rule, after the field checks
        raise BadRequest("Missing required booking field response: email - Email is required")
    length = None
    if end is not None:
        minutes = (end - start).total_seconds() / 60
        if minutes <= 0 or minutes != int(minutes):
            raise BadRequest("Invalid event length", reason="invalid_event_length")
        length = int(minutes)
    location = responses.get("location")
    if isinstance(location, dict):
        location = location.get("value") if isinstance(location.get("value"), str) else None
    elif not isinstance(location, str):
        location = None
    attendee = AttendeeCheck.attendee(name, email, phone, time_zone, language)
    return CreateInput(
        request=CreateRequest(
            event_type_id=int(event_type_id),
            start=start,
            attendee=attendee,
            length=length,
            metadata=metadata,
            guests=list(guests),
            responses=_responses(responses, attendee, guests),
            location=location,
            reserved_slot_uid=reserved,
        ),
        event_type_id=int(event_type_id),
        event_type_slug=body.get("eventTypeSlug"),
        username=None,
        team_slug=None,
        wants_length=False,
        reschedule_uid=body.get("rescheduleUid") or None,
        rescheduled_by=rescheduled_by or None,
        end=end,
    )


# --------------------------------------------------------------------------- cancel / reschedule

CANCEL_FIELDS = frozenset({"cancellationReason", "cancelSubsequentBookings", "seatUid"})
# 2024-04-15 clients send {uid, cancellationReason, allRemainingBookings, cancelledBy}; that
# controller refuses no unknown field, so only 2024-08-13 cancels are checked against CANCEL_FIELDS.


def cancel_body(body: Any, *, legacy: bool) -> str | None:
    """The cancellation reason (a missing body is allowed: clients POST with no body)."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    problems = Problems()
    if not legacy:
        problems.unknown(body, CANCEL_FIELDS)
    reason = body.get("cancellationReason")
    if reason is not None and not isinstance(reason, str):
        problems.add("cancellationReason", "cancellationReason must be a string")
    if "cancelSubsequentBookings" in body and not isinstance(body["cancelSubsequentBookings"], bool):
        problems.add("cancelSubsequentBookings", "cancelSubsequentBookings must be a boolean value")
    if "seatUid" in body and not legacy:
        problems.add("seatUid", "seatUid can only be used for seated bookings")
    problems.raise_if_any()
    return reason


RESCHEDULE_FIELDS = frozenset({"start", "rescheduledBy", "reschedulingReason", "seatUid", "reservedSlotUid"})


@dataclass(slots=True)
class RescheduleInput:
    start: datetime
    rescheduled_by: str | None
    reason: str | None
    reserved_slot_uid: str | None = None


def reschedule_body(body: Any) -> RescheduleInput:
    body = require_body(body)
    problems = Problems()
    problems.unknown(body, RESCHEDULE_FIELDS)
    start = _iso(body.get("start"))
    if start is None:
        problems.add("start", "start must be a valid ISO 8601 date string")
    by = body.get("rescheduledBy")
    if by is not None and not _is_email(by):
        problems.add("rescheduledBy", "rescheduledBy must be an email")
    reason = body.get("reschedulingReason")
    if reason is not None and not isinstance(reason, str):
        problems.add("reschedulingReason", "reschedulingReason must be a string")
    if "seatUid" in body:
        problems.add("seatUid", "seatUid can only be used for seated bookings")
    reserved = reserved_slot_uid(body, problems)
    problems.raise_if_any()
    assert start is not None
    return RescheduleInput(start=start, rescheduled_by=by, reason=reason, reserved_slot_uid=reserved)


# --------------------------------------------------------------------------- queries


def unknown_query(query: dict[str, str], allowed: frozenset[str], problems: Problems) -> None:
    for key in query:
        if key not in allowed:
            problems.add(key, f"property {key} should not exist")


def query_int(query: dict[str, str], key: str, problems: Problems, *, minimum: int | None = None,
              maximum: int | None = None) -> int | None:
    if key not in query:
        return None
    text = query[key]
    try:
        value = int(text)
    except ValueError:
        problems.add(key, f"{key} must be an integer number")
        return None
    if minimum is not None and value < minimum:
        problems.add(key, f"{key} must not be less than {minimum}")
    if maximum is not None and value > maximum:
        problems.add(key, f"{key} must not be greater than {maximum}")
    return value


def query_iso(query: dict[str, str], key: str, problems: Problems) -> datetime | None:
    if key not in query:
        return None
    value = _iso(query[key])
    if value is None:
        problems.add(key, f"{key} must be a valid ISO 8601 date string")
    return value


# --------------------------------------------------------------------------- webhooks

WEBHOOK_FIELDS = frozenset({"subscriberUrl", "triggers", "active", "payloadTemplate", "secret"})


def webhook_body(body: Any, *, partial: bool = False) -> dict[str, Any]:
    body = require_body(body)
    problems = Problems()
    problems.unknown(body, WEBHOOK_FIELDS)
    url = body.get("subscriberUrl")
    if (url is not None or not partial) and (not isinstance(url, str) or not re.match(r"^https?://", url)):
        problems.add("subscriberUrl", "subscriberUrl must be a URL address")
    triggers = body.get("triggers")
    bad_triggers = not isinstance(triggers, list) or not triggers or any(t not in TRIGGERS for t in triggers)
    if (triggers is not None or not partial) and bad_triggers:
        problems.add("triggers", f"each value in triggers must be one of the following values: {', '.join(TRIGGERS)}")
    active = body.get("active")
    if (active is not None or not partial) and not isinstance(active, bool):
        problems.add("active", "active must be a boolean value")
    for key in ("payloadTemplate", "secret"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.add(key, f"{key} must be a string")
    problems.raise_if_any()
    return body


# --------------------------------------------------------------------------- slot reservations


@dataclass(slots=True)
class ReserveInput:
    event_type_id: int
    start: datetime
    slot_duration: int | None
    reservation_minutes: int | None


def _optional_int(body: dict[str, Any], key: str, problems: Problems) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not is_int(value):
        problems.add(key, f"{key} must be an integer number")
        return None
    return int(value)


def _date_string(body: dict[str, Any], key: str, problems: Problems) -> datetime | None:
    value = _iso(body.get(key))
    if value is None:
        problems.add(key, f"{key} must be a valid ISO 8601 date string")
    return value


def reserve_body(body: Any) -> ReserveInput:
    """`ReserveSlotInput_2024_09_04` through Nest's global ValidationPipe (whitelist: unknown
    fields are stripped, not refused)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    problems = Problems()
    event_type_id = body.get("eventTypeId")
    if not is_int(event_type_id):
        problems.add("eventTypeId", "eventTypeId must be an integer number")
    start = _date_string(body, "slotStart", problems)
    slot_duration = _optional_int(body, "slotDuration", problems)
    reservation = _optional_int(body, "reservationDuration", problems)
    problems.raise_if_any()
    assert start is not None
    assert isinstance(event_type_id, int)
    return ReserveInput(event_type_id, start, slot_duration, reservation)


@dataclass(slots=True)
class LegacyReserveInput:
    event_type_id: int
    start: datetime
    end: datetime


def legacy_reserve_body(body: Any) -> LegacyReserveInput:
    """`ReserveSlotInput_2024_04_15`: {eventTypeId, slotUtcStartDate, slotUtcEndDate, bookingUid?}."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    problems = Problems()
    event_type_id = body.get("eventTypeId")
    if not is_int(event_type_id):
        problems.add("eventTypeId", "eventTypeId must be an integer number")
    start = _date_string(body, "slotUtcStartDate", problems)
    end = _date_string(body, "slotUtcEndDate", problems)
    if body.get("bookingUid") is not None and not isinstance(body["bookingUid"], str):
        problems.add("bookingUid", "bookingUid must be a string")
    if body.get("_isDryRun") is not None and not isinstance(body["_isDryRun"], bool):
        problems.add("_isDryRun", "_isDryRun must be a boolean value")
    problems.raise_if_any()
    assert start is not None
    assert end is not None
    assert isinstance(event_type_id, int)
    return LegacyReserveInput(event_type_id, start, end)


def reserved_slot_uid(body: Any, problems: Problems) -> str | None:
    """`reservedSlotUid` of a create or reschedule body (newer Cal.com)."""
    if not isinstance(body, dict) or body.get("reservedSlotUid") is None:
        return None
    value = body["reservedSlotUid"]
    if not isinstance(value, str):
        problems.add("reservedSlotUid", "reservedSlotUid must be a string")
        return None
    return value


# --------------------------------------------------------------------------- PATCH /v2/me

WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ME_FIELDS = frozenset(
    {"email", "name", "timeFormat", "defaultScheduleId", "weekStart", "timeZone", "locale", "avatarUrl", "bio", "metadata"}
)


def update_me_body(body: Any) -> dict[str, Any]:
    """`UpdateManagedUserInput`; unknown fields are stripped (Nest's global pipe)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    problems = Problems()
    changes = {k: v for k, v in body.items() if k in ME_FIELDS}
    for key in ("email", "name", "avatarUrl", "bio"):
        if key in changes and not isinstance(changes[key], str):
            problems.add(key, f"{key} must be a string")
    if "timeFormat" in changes and (not is_int(changes["timeFormat"]) or changes["timeFormat"] not in (12, 24)):
        problems.add("timeFormat", "timeFormat must be one of the following values: 12, 24")
    if "defaultScheduleId" in changes and not is_int(changes["defaultScheduleId"]):
        problems.add("defaultScheduleId", "defaultScheduleId must be an integer number")
    if "weekStart" in changes and changes["weekStart"] not in WEEK_DAYS:
        problems.add("weekStart", f"weekStart must be one of the following values: {', '.join(WEEK_DAYS)}")
    if "timeZone" in changes and not is_time_zone(changes["timeZone"]):
        problems.add("timeZone", "timeZone must be a valid IANA time-zone")
    if "locale" in changes and changes["locale"] not in LANGUAGES:
        problems.add("locale", f"locale must be one of the following values: {', '.join(sorted(LANGUAGES))}")
    if "metadata" in changes:
        check_metadata(changes["metadata"], problems)
        if changes["metadata"] is None:
            problems.add("metadata", "metadata must be an object")
    problems.raise_if_any()
    return changes


def decline_body(body: Any) -> str | None:
    """`DeclineBookingInput_2024_08_13` {reason?}; clients also POST no body at all."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("reason property is wrong, reason must be a string")
    return reason
