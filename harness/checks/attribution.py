"""Which call a Cal.com booking was made for, the way the service's adapter says.

The reference writes ``metadata.call_id``; many services write nothing of the kind, and a
booking is theirs only by the attendee's e-mail or phone number. For those the harness gives
every call its own contact (the driver) and reads the pairing back from the history: a booking
whose attendee carries a call's contact was made for that call. Every checker then works from
`UpstreamBooking.call_id`, however it was found.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from harness.adapters import Attribution
from harness.history import History

Attribute = Callable[[Mapping[str, Any]], str | None]

_CONTACT_FIELDS = {"email": "email", "phone": "telefon"}


def normalize_phone(value: object) -> str | None:
    """Digits only, with `00` and a national leading `0` read as German numbers."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"\D", "", value)
    if value.strip().startswith("+"):
        return digits or None
    if digits.startswith("00"):
        return digits[2:] or None
    if digits.startswith("0"):
        return "49" + digits[1:]
    return digits or None


def normalize_email(value: object) -> str | None:
    return value.strip().casefold() if isinstance(value, str) and value.strip() else None


def by_metadata(key: str) -> Attribute:
    def attribute(booking: Mapping[str, Any]) -> str | None:
        metadata = booking.get("metadata")
        value = metadata.get(key) if isinstance(metadata, Mapping) else None
        return str(value) if value is not None else None
    return attribute


def contacts_of(history: History, kind: str) -> dict[str, set[str]]:
    """contact → the calls whose booking requests gave it."""
    field = _CONTACT_FIELDS[kind]
    norm = normalize_phone if kind == "phone" else normalize_email
    contacts: dict[str, set[str]] = defaultdict(set)
    for op in history.operations:
        if op.call_id is None or op.f not in ("collect", "reschedule", "check"):
            continue
        request = op.request
        if isinstance(request, dict):
            value = norm(request.get(field))
            if value is not None:
                contacts[value].add(op.call_id)
    return contacts


def attendee_contacts(booking: Mapping[str, Any], kind: str) -> list[str]:
    norm = normalize_phone if kind == "phone" else normalize_email
    key = "phoneNumber" if kind == "phone" else "email"
    found = []
    for attendee in booking.get("attendees") or ():
        if isinstance(attendee, Mapping):
            value = norm(attendee.get(key))
            if value is not None:
                found.append(value)
    responses = booking.get("bookingFieldsResponses")
    if kind == "phone" and isinstance(responses, Mapping):
        value = normalize_phone(responses.get("attendeePhoneNumber"))
        if value is not None:
            found.append(value)
    return found


def attributor(attribution: Attribution, history: History | None) -> Attribute:
    """The attribution function for one judgement (the history gives the calls' contacts)."""
    if attribution.kind == "metadata":
        return by_metadata(attribution.key)
    contacts = contacts_of(history, attribution.kind) if history is not None else {}

    def attribute(booking: Mapping[str, Any]) -> str | None:
        for contact in attendee_contacts(booking, attribution.kind):
            calls = contacts.get(contact)
            if calls is not None and len(calls) == 1:
                return next(iter(calls))
        return None
    return attribute
