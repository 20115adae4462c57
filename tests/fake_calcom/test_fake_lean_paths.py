"""The fast paths of the fake's create agree with the full ones they stand in for.

The lean 2024-08-13 validation must accept only what the full validation accepts and build the
same request; on anything else it steps aside (None) so the full path words the error. The busy
index's one-day check must answer what the general overlap query answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fake_calcom.backend.busy import BusyIndex
from fake_calcom.backend.errors import BadRequest
from fake_calcom.backend.models import Attendee, Booking
from fake_calcom.wire.validation import (
    CreateInput,
    full_create_2024_08_13,
    lean_create_2024_08_13,
)


def mostly(valid: Any, *others: Any) -> st.SearchStrategy[Any]:
    """`valid` four times in five, else one of `others`: a body breaks one rule at a time."""
    return st.one_of(st.just(valid), st.just(valid), st.just(valid), st.just(valid), st.sampled_from(others))


# Values near the edges of each check: well-formed, malformed, and the wrong type.
STARTS = mostly("2031-01-06T09:00:00Z", "2031-01-06T09:00:00.000Z", "2031-01-06T09:00:00+02:00",
                "2031-01-06", "2031-13-06T09:00:00Z", "2031-01-06T25:00:00Z", "soon", 5, None)
NAMES = mostly("Ada Lovelace", "", "  ", None, 7, {"firstName": "Ada"})
EMAILS = mostly("ada@example.com", "not-an-email", "a@b", "", None, 3)
PHONES = mostly(None, "+493012345678", "030 1234", "+0301234567", 12)
ZONES = mostly("Europe/Berlin", "UTC", "Mars/Olympus", "", None, " UTC")
LANGUAGES = mostly(None, "de", "en", "xx", 4)
METADATA = mostly(None, {}, {"call_id": "c1"}, {"k" * 41: "v"}, {"v": "x" * 501},
                  {str(n): n for n in range(51)}, "meta", [])
EVENT_TYPE_IDS = mostly(1, 0, -3, True, "1", None, 1.5)


@st.composite
def create_bodies(draw: st.DrawFn) -> Any:
    attendee: dict[str, Any] = {}
    for key, values in (("name", NAMES), ("email", EMAILS), ("phoneNumber", PHONES), ("timeZone", ZONES),
                        ("language", LANGUAGES)):
        value = draw(values)
        if value is not None or draw(st.booleans()):
            attendee[key] = value
    if draw(st.integers(0, 9)) == 0:
        attendee["nickname"] = "Ada"  # not a field of the attendee
    body: dict[str, Any] = {"start": draw(STARTS), "attendee": attendee if draw(st.integers(0, 9)) else "ada",
                            "eventTypeId": draw(EVENT_TYPE_IDS)}
    for key, values in (("metadata", METADATA), ("location", st.sampled_from(["Phone", 4, {"type": "x"}])),
                        ("reservedSlotUid", st.sampled_from(["r-1", 9])), ("guests", st.just(["b@example.com"])),
                        ("lengthInMinutes", st.just(30)), ("unknownField", st.just(1))):
        if draw(st.integers(0, 4)) == 0:
            body[key] = draw(values)
    for key in [k for k in body if body[k] is None and draw(st.booleans())]:
        del body[key]
    return body if draw(st.integers(0, 19)) else draw(st.sampled_from([None, [], "x"]))


def outcome(body: Any) -> CreateInput | str:
    try:
        return full_create_2024_08_13(body)
    except BadRequest as error:
        return f"refused: {error}"


@settings(max_examples=600, deadline=None)
@given(create_bodies())
def test_the_lean_create_validation_agrees_with_the_full_one(body: Any) -> None:
    lean = lean_create_2024_08_13(body)
    full = outcome(body)
    if lean is None:
        return  # stepped aside: the full path decides (and words any error)
    assert not isinstance(full, str), f"lean accepted what the full path refuses: {full}"
    assert lean == full


def test_the_lean_create_validation_takes_the_common_body() -> None:
    """It must actually be used for the body callers send (else it speeds nothing up)."""
    body = {"start": "2031-01-06T09:00:00Z", "eventTypeId": 1, "metadata": {"call_id": "c1"},
            "attendee": {"name": "Ada", "email": "ada@example.com", "timeZone": "Europe/Berlin"}}
    assert lean_create_2024_08_13(body) == full_create_2024_08_13(body)


T0 = datetime(2031, 1, 6, tzinfo=UTC)


def booking(uid: str, start_min: int, length_min: int) -> Booking:
    start = T0 + timedelta(minutes=start_min)
    return Booking(id=1, uid=uid, event_type_id=1, host_ids=(1,), status="accepted", start=start,
                   end=start + timedelta(minutes=length_min), attendees=[Attendee("A", "a@example.com")],
                   metadata={}, created_at=T0, updated_at=T0, title="t")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-600, 3000), st.sampled_from([15, 30, 60, 600, 1500])), max_size=12),
       st.integers(-600, 3000), st.sampled_from([15, 30, 90, 1440]), st.sampled_from([None, "b0", "b1"]))
def test_the_one_day_busy_check_agrees_with_the_overlap_query(
        existing: list[tuple[int, int]], start_min: int, length_min: int, ignore: str | None) -> None:
    index = BusyIndex()
    for n, (at, length) in enumerate(existing):
        index.add(1, booking(f"b{n}", at, length))
    start = T0 + timedelta(minutes=start_min)
    end = start + timedelta(minutes=length_min)
    expected = any(b.uid != ignore for b in index.overlapping(1, start, end))
    assert index.any_overlapping(1, start, end, ignore) is expected
