"""harness/checks/attribution.py: which call a Cal.com booking was made for — by a metadata key,
or by the attendee's e-mail or phone number the call gave (normalised; ambiguous → nobody)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.adapters import Attribution
from harness.checks.attribution import (
    attendee_contacts,
    attributor,
    by_metadata,
    contacts_of,
    normalize_email,
    normalize_phone,
)
from harness.history import Event, History


def history_of(*ops: tuple[str, str | None, Any]) -> History:
    """Each (f, call_id, request) as an invoke and an ok, one process per operation."""
    events = []
    for n, (f, call_id, request) in enumerate(ops):
        process = f"w0:p{n}"
        events.append(Event(2 * n, "invoke", process, f, call_id, None, request, 2 * n))
        events.append(Event(2 * n + 1, "ok", process, f, call_id, None, {"status": "ok"},
                            2 * n + 1))
    return History(events)


def booking(*attendees: Any, **fields: Any) -> dict[str, Any]:
    return {"uid": "u1", "attendees": list(attendees), **fields}


@pytest.mark.parametrize(("raw", "normal"), [
    ("+49 30 123456", "4930123456"),
    ("+49-30-123456", "4930123456"),
    ("0049 30 123456", "4930123456"),
    ("030 123456", "4930123456"),
    ("030/123-456", "4930123456"),
    ("4930123456", "4930123456"),
    ("+1 (555) 010-0000", "15550100000"),
    (" +4915111111111 ", "4915111111111"),
    ("0151 11111111", "4915111111111"),
    ("", None),
    ("   ", None),
    ("+", None),
    ("00", None),
    ("call me", None),
    (None, None),
    (4930123456, None),
])
def test_phone_numbers_are_compared_as_international_digits(raw: object,
                                                            normal: str | None) -> None:
    assert normalize_phone(raw) == normal


@pytest.mark.parametrize(("raw", "normal"), [
    ("  Anna.Alt@Example.COM ", "anna.alt@example.com"),
    ("termin@praxis-berlin.example", "termin@praxis-berlin.example"),
    ("", None),
    ("  ", None),
    (None, None),
    (["a@b.c"], None),
])
def test_emails_are_compared_trimmed_and_casefolded(raw: object, normal: str | None) -> None:
    assert normalize_email(raw) == normal


def test_by_metadata_reads_the_key_as_a_string() -> None:
    call_id = by_metadata("call_id")
    assert call_id({"metadata": {"call_id": "call_1"}}) == "call_1"
    assert call_id({"metadata": {"call_id": 17}}) == "17"
    assert call_id({"metadata": {"call_id": None}}) is None
    assert call_id({"metadata": {}}) is None
    assert call_id({"metadata": "call_1"}) is None
    assert call_id({"metadata": None}) is None
    assert call_id({}) is None
    assert by_metadata("ref")({"metadata": {"ref": "r9", "call_id": "c"}}) == "r9"


def test_the_metadata_attributor_needs_no_history() -> None:
    attribute = attributor(Attribution("metadata", "call_id"), None)
    assert attribute({"metadata": {"call_id": "call_9"}}) == "call_9"


def test_contacts_come_from_the_booking_requests_of_the_history() -> None:
    history = history_of(
        ("collect", "c1", {"telefon": "0151 1111111", "email": "Anna@Example.com"}),
        ("check", "c2", {"telefon": "+49 151 2222222"}),
        ("reschedule", "c3", {"telefon": "+491513333333"}),
        ("cancel", "c4", {"telefon": "+491514444444"}),  # a cancel gives no contact
        ("collect", None, {"telefon": "+491515555555"}),  # no call
        ("collect", "c6", "not a request object"),
        ("collect", "c7", {"telefon": None, "email": ""}),
        ("collect", "c8", {"telefon": "0151 1111111"}),  # the same number as c1
    )

    assert contacts_of(history, "phone") == {
        "491511111111": {"c1", "c8"}, "491512222222": {"c2"}, "491513333333": {"c3"}}
    assert contacts_of(history, "email") == {"anna@example.com": {"c1"}}


def test_attendee_contacts_read_attendees_and_the_phone_booking_field() -> None:
    found = booking({"name": "A", "email": "A@x.de", "phoneNumber": "+49 151 1"},
                    {"name": "B", "email": None, "phoneNumber": "0151 2"}, "not an attendee",
                    bookingFieldsResponses={"attendeePhoneNumber": "+491513"})
    assert attendee_contacts(found, "phone") == ["491511", "491512", "491513"]
    assert attendee_contacts(found, "email") == ["a@x.de"]
    assert attendee_contacts({"uid": "u", "attendees": None}, "phone") == []


def test_phone_attribution_matches_however_the_number_was_written() -> None:
    history = history_of(("collect", "call_a", {"name": "Anna", "telefon": "0151 1111111"}),
                         ("collect", "call_b", {"name": "Bernd", "telefon": "+49 151 2222222"}))
    attribute = attributor(Attribution("phone"), history)

    assert attribute(booking({"name": "Anna", "phoneNumber": "+491511111111"})) == "call_a"
    assert attribute(booking({"name": "?", "phoneNumber": "0049 151 2222222"})) == "call_b"
    assert attribute(booking({"name": "?"}, bookingFieldsResponses={
        "attendeePhoneNumber": "01512222222"})) == "call_b"
    assert attribute(booking({"name": "Outside", "phoneNumber": "+491519999999"})) is None
    assert attribute(booking({"name": "No phone", "email": "x@y.de"})) is None
    # The metadata is not how this adapter attributes: it is ignored.
    assert attribute(booking({"name": "?"}, metadata={"call_id": "call_a"})) is None


def test_email_attribution_ignores_case_and_phones() -> None:
    history = history_of(("collect", "call_a", {"email": "Anna.Alt@Example.com",
                                                "telefon": "+491511111111"}))
    attribute = attributor(Attribution("email"), history)

    assert attribute(booking({"email": "anna.alt@example.COM"})) == "call_a"
    assert attribute(booking({"email": "other@example.com", "phoneNumber": "+491511111111"})) \
        is None


def test_a_contact_two_calls_gave_attributes_to_neither() -> None:
    history = history_of(("collect", "call_a", {"telefon": "+491511111111"}),
                         ("collect", "call_b", {"telefon": "0151 1111111"}),
                         ("collect", "call_c", {"telefon": "+491513333333"}))
    attribute = attributor(Attribution("phone"), history)

    assert attribute(booking({"phoneNumber": "+491511111111"})) is None
    # Another attendee's unambiguous contact still names its call.
    assert attribute(booking({"phoneNumber": "+491511111111"},
                             {"phoneNumber": "+491513333333"})) == "call_c"


def test_the_same_call_giving_its_contact_twice_is_not_ambiguous() -> None:
    history = history_of(("check", "call_a", {"telefon": "+491511111111"}),
                         ("collect", "call_a", {"telefon": "+49 151 1111111"}))
    attribute = attributor(Attribution("phone"), history)
    assert attribute(booking({"phoneNumber": "01511111111"})) == "call_a"


def test_without_a_history_contact_attribution_names_nobody() -> None:
    for kind in ("phone", "email"):
        attribute = attributor(Attribution(kind), None)  # type: ignore[arg-type]
        assert attribute(booking({"email": "a@b.de", "phoneNumber": "+491511"})) is None
