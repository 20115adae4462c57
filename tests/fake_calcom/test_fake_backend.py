"""The backend's Cal.com rules, tested without HTTP (contracts §1.3, API-FACTS §4)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fake_calcom.backend.clock import VirtualClock
from fake_calcom.backend.errors import (
    BUSY_MESSAGE,
    OUT_OF_BOUNDS_MESSAGE,
    PAST_MESSAGE,
    TEAM_BUSY_MESSAGE,
    BadRequest,
    BookingConflict,
    NotFound,
)
from fake_calcom.backend.ids import BASE58, IdGenerator
from fake_calcom.backend.models import Attendee, CreateRequest
from fake_calcom.backend.seed_data import SeedDataError, default_seed_data, load_seed_data
from fake_calcom.backend.store import Backend
from fake_calcom.backend.timefmt import iso_in_zone, iso_ms, parse_iso, zone
from fake_calcom.testing import FROZEN_NOW, TUESDAY_0900, TUESDAY_0930

T9 = parse_iso(TUESDAY_0900)


@pytest.fixture
def backend() -> Backend:
    clock = VirtualClock()
    clock.freeze(parse_iso(FROZEN_NOW))
    return Backend(seed=1, clock=clock)


def request(event_type_id: int = 2001, start: str = TUESDAY_0900, *, name: str = "Hansi Sputer",
            email: str = "termin@praxis-berlin.example", call_id: str = "call_1", owner: int | None = 101) -> CreateRequest:
    return CreateRequest(
        event_type_id=event_type_id,
        start=parse_iso(start),
        attendee=Attendee(name=name, email=email),
        metadata={"call_id": call_id},
        api_key_owner=owner,
    )


def active(backend: Backend) -> list:
    return [b for b in backend.bookings.values() if b.active]


# --------------------------------------------------------------------------- one slot, one booking


def test_a_booked_host_slot_refuses_a_second_booking(backend: Backend) -> None:
    first = backend.create_booking(request())
    assert first.created
    assert first.booking.status == "accepted"
    with pytest.raises(BadRequest) as error:
        backend.create_booking(request(name="Other Caller", email="other@example.com"))
    assert error.value.message == BUSY_MESSAGE
    assert len(active(backend)) == 1


def test_an_overlapping_booking_is_refused_too(backend: Backend) -> None:
    backend.create_booking(request(2002, TUESDAY_0900))  # Ben, 09:00–10:00 Berlin
    with pytest.raises(BadRequest):
        backend.create_booking(request(2002, TUESDAY_0930, email="x@example.com"))
    result = backend.create_booking(request(2004, TUESDAY_0930, email="x@example.com"))
    assert result.booking.host_ids == (101,)


def test_cancel_frees_the_slot(backend: Backend) -> None:
    first = backend.create_booking(request()).booking
    backend.cancel(first.uid, reason="caller cancelled")
    second = backend.create_booking(request(name="Second", email="second@example.com")).booking
    assert second.uid != first.uid
    assert first.status == "cancelled"
    assert first.cancellation_reason == "caller cancelled"


def test_the_host_must_give_a_cancellation_reason(backend: Backend) -> None:
    booking = backend.create_booking(request()).booking
    anna = backend.host(101)
    with pytest.raises(BadRequest, match="Cancellation reason is required when you are the host"):
        backend.cancel(booking.uid, caller=anna)
    backend.cancel(booking.uid)  # no credentials: no reason needed
    with pytest.raises(BadRequest, match="cancelled already"):
        backend.cancel(booking.uid)


def test_past_notice_and_working_hours(backend: Backend) -> None:
    with pytest.raises(BadRequest) as past:
        backend.create_booking(request(start="2025-10-06T07:00:00Z"))
    assert past.value.message == PAST_MESSAGE
    with pytest.raises(BadRequest) as notice:
        backend.create_booking(request(start="2025-10-06T10:00:00Z"))  # 20 min ahead, notice 60
    assert notice.value.message == OUT_OF_BOUNDS_MESSAGE
    with pytest.raises(BadRequest) as closed:
        backend.create_booking(request(start="2025-10-07T05:00:00Z"))  # 07:00 Berlin
    assert closed.value.message == BUSY_MESSAGE
    with pytest.raises(BadRequest):
        backend.create_booking(request(start="2025-10-11T08:00:00Z"))  # a Saturday
    with pytest.raises(NotFound, match=r"Event type with id 9999 not found\."):
        backend.create_booking(request(9999))


# --------------------------------------------------------------------------- the dedupe path


def test_requires_confirmation_returns_the_existing_pending_booking_unchanged(backend: Backend) -> None:
    first = backend.create_booking(request(2003, call_id="call_687")).booking
    assert first.status == "pending"
    backend.clock.advance(35 * 60)
    again = backend.create_booking(request(2003, name="Hans Schuster", call_id="call_688"))
    assert not again.created
    assert again.booking is first
    assert again.booking.metadata == {"call_id": "call_687"}
    assert again.booking.attendees[0].name == "Hansi Sputer"
    assert again.booking.created_at == parse_iso(FROZEN_NOW)
    assert len(backend.bookings) == 1


def test_round_robin_returns_the_existing_accepted_booking_for_the_same_attendee(backend: Backend) -> None:
    first = backend.create_booking(request(2004)).booking
    again = backend.create_booking(request(2004, name="Someone Else", call_id="call_2"))
    assert not again.created
    assert again.booking.uid == first.uid
    # A different attendee gets the other host; a third one finds nobody.
    other = backend.create_booking(request(2004, email="b@example.com")).booking
    assert other.host_ids != first.host_ids
    with pytest.raises(BadRequest) as error:
        backend.create_booking(request(2004, email="c@example.com"))
    assert error.value.message == TEAM_BUSY_MESSAGE


def test_a_plain_event_type_never_dedupes(backend: Backend) -> None:
    backend.create_booking(request(2001))
    with pytest.raises(BadRequest, match=BUSY_MESSAGE):
        backend.create_booking(request(2001, call_id="call_2"))


def test_round_robin_picks_the_host_with_fewest_active_bookings_then_lowest_id(backend: Backend) -> None:
    first = backend.create_booking(request(2004, email="a@example.com")).booking
    assert first.host_ids == (101,)  # tie: lowest id
    second = backend.create_booking(request(2004, "2025-10-07T09:00:00Z", email="b@example.com")).booking
    assert second.host_ids == (102,)  # Ben has fewer active bookings now


def test_collective_needs_every_host_and_blocks_every_host(backend: Backend) -> None:
    booking = backend.create_booking(request(2005, "2025-10-07T08:00:00Z")).booking
    assert booking.host_ids == (101, 103)
    assert booking.end - booking.start == timedelta(minutes=45)
    for event_type_id in (2001, 2006):  # Anna's and Clara's own event types are blocked now
        with pytest.raises(BadRequest):
            backend.create_booking(request(event_type_id, "2025-10-07T08:00:00Z", email="z@example.com"))
    # Clara works 08:00–16:00 Berlin: 16:00 Berlin is outside her hours although Anna works.
    with pytest.raises(BadRequest, match=TEAM_BUSY_MESSAGE):
        backend.create_booking(request(2005, "2025-10-07T14:00:00Z", email="y@example.com"))


# --------------------------------------------------------------------------- reschedule


def test_reschedule_creates_a_new_booking_and_cancels_the_old(backend: Backend) -> None:
    old = backend.create_booking(request()).booking
    new = backend.reschedule(old.uid, parse_iso(TUESDAY_0930), rescheduled_by="anna@praxis-berlin.example")
    assert new.uid != old.uid
    assert new.rescheduled_from_uid == old.uid
    assert old.status == "cancelled"
    assert old.rescheduled_to_uid == new.uid
    assert new.metadata == old.metadata
    backend.create_booking(request(name="Next", email="next@example.com"))  # the old slot is free
    with pytest.raises(BadRequest, match="rescheduled already"):
        backend.reschedule(old.uid, parse_iso("2025-10-07T09:00:00Z"))
    with pytest.raises(BadRequest, match=BUSY_MESSAGE):
        backend.reschedule(new.uid, parse_iso(TUESDAY_0900))
    assert new.status == "accepted"  # a failed reschedule leaves the booking as it was


def test_reschedule_onto_an_overlapping_time_of_the_same_booking(backend: Backend) -> None:
    old = backend.create_booking(request(2002)).booking  # 60 min
    new = backend.reschedule(old.uid, old.start + timedelta(minutes=30))
    assert new.start == old.start + timedelta(minutes=30)


# --------------------------------------------------------------------------- races (barrier building blocks)


def test_two_plans_checked_before_either_commits_collide_on_the_unique_key(backend: Backend) -> None:
    plan_a = backend.prepare_create(request(name="A", email="a@example.com"))
    plan_b = backend.prepare_create(request(name="B", email="b@example.com"))
    backend.commit(plan_a, origin={"kind": "api"})
    with pytest.raises(BookingConflict):
        backend.commit(plan_b, origin={"kind": "api"})
    assert len(active(backend)) == 1


def test_the_old_attendee_key_lets_different_attendees_double_book(backend: Backend) -> None:
    plan_a = backend.prepare_create(request(name="A", email="a@example.com"))
    plan_b = backend.prepare_create(request(name="B", email="b@example.com"))
    backend.commit(plan_a, origin={"kind": "api"}, key_mode="attendee")
    backend.commit(plan_b, origin={"kind": "api"}, key_mode="attendee")
    assert len(active(backend)) == 2


def test_overbook_skips_the_availability_check(backend: Backend) -> None:
    backend.create_booking(request())
    with pytest.raises(BadRequest):
        backend.create_booking(request(email="b@example.com"))
    backend.create_booking(request(email="b@example.com"), overbook=True)
    assert len(active(backend)) == 2


# --------------------------------------------------------------------------- outside bookings, truth, reset


def test_take_slot_backdates_and_records_its_origin(backend: Backend) -> None:
    created = backend.clock.now() - timedelta(minutes=35)
    booking = backend.take_slot(request(2004, owner=None), created_at=created, webhooks=False)
    truth = backend.ground_truth()["bookings"][0]
    assert truth["origin"] == {"kind": "outside"}
    assert truth["createdAt"] == iso_ms(created)
    assert booking.host_ids == (101,)
    api_booking = backend.create_booking(request(2001, TUESDAY_0930)).booking
    assert backend.booking_truth(api_booking)["origin"] == {"kind": "api", "api_key_owner": 101}


def test_reset_scopes(backend: Backend) -> None:
    first_uid = backend.create_booking(request()).booking.uid
    backend.reset("bookings")
    assert not backend.bookings
    assert backend.create_booking(request()).booking.uid != first_uid  # ids not re-seeded
    backend.reset("all")
    assert not backend.clock.frozen
    backend.clock.freeze(parse_iso(FROZEN_NOW))
    assert backend.create_booking(request()).booking.uid == first_uid  # re-seeded


def test_same_seed_same_ids_and_uids_look_like_calcom_uids() -> None:
    a, b, c = IdGenerator(7), IdGenerator(7), IdGenerator(8)
    assert [a.uid() for _ in range(5)] == [b.uid() for _ in range(5)]
    assert a.booking_id() == b.booking_id() != c.booking_id()
    uid = c.uid()
    assert len(uid) == 22
    assert set(uid) <= set(BASE58)


# --------------------------------------------------------------------------- slots


def test_slots_are_working_hours_minus_busy_time_after_the_notice(backend: Backend) -> None:
    event_type = backend.event_type(2001)
    assert event_type is not None
    day_start, day_end = parse_iso("2025-10-07T00:00:00Z"), parse_iso("2025-10-07T23:59:59Z")
    slots = backend.slots(event_type, day_start, day_end)
    assert len(slots) == 16
    assert slots[0] == T9
    assert slots[-1] == parse_iso("2025-10-07T14:30:00Z")
    backend.create_booking(request())
    assert T9 not in backend.slots(event_type, day_start, day_end)
    today = backend.slots(event_type, parse_iso("2025-10-06T00:00:00Z"), parse_iso("2025-10-06T23:59:59Z"))
    assert today[0] == parse_iso("2025-10-06T11:00:00Z")  # 11:40 Berlin now + 60 min notice → 13:00


def test_round_robin_slots_stay_while_one_host_is_free(backend: Backend) -> None:
    team = backend.event_type(2004)
    assert team is not None
    window = (T9, T9)
    backend.create_booking(request(2004, email="a@example.com"))
    assert backend.slots(team, *window) == [T9]
    backend.create_booking(request(2004, email="b@example.com"))
    assert backend.slots(team, *window) == []


def test_times_render_like_javascript_and_luxon() -> None:
    moment = parse_iso("2025-10-07T07:00:00+00:00")
    assert iso_ms(moment) == "2025-10-07T07:00:00.000Z"
    assert iso_in_zone(moment, zone("Europe/Berlin")) == "2025-10-07T09:00:00.000+02:00"
    assert iso_in_zone(moment, zone("America/St_Johns")) == "2025-10-07T04:30:00.000-02:30"
    assert parse_iso("2025-10-07T09:00:00.123456789+02:00") == parse_iso("2025-10-07T07:00:00.123456Z")
    for bad in ("tomorrow", "2025-13-01", "2025-10-07T25:00:00Z", ""):
        with pytest.raises(ValueError):
            parse_iso(bad)


# --------------------------------------------------------------------------- seed data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["hosts"][0].update(timeZone="Mars/Olympus"), "unknown time zone"),
        (lambda d: d["apiKeys"][0].update(key="live_no_prefix"), "start with 'cal_'"),
        (lambda d: d["eventTypes"][0].update(hostIds=[999]), "hostIds must name known hosts"),
        (lambda d: d["eventTypes"][0].update(schedulingType="managed"), "schedulingType"),
        (lambda d: d["hosts"][0]["workingHours"][0].update(startTime="18:00"), "before endTime"),
        (lambda d: d["hosts"][0]["workingHours"][0].update(days=["Funday"]), "unknown weekday"),
        (lambda d: d.update(extra=1), "unknown seed-data keys"),
    ],
)
def test_bad_seed_data_is_refused_with_a_clear_message(mutate, message: str) -> None:
    data = default_seed_data()
    mutate(data)
    with pytest.raises(SeedDataError, match=message):
        load_seed_data(data)


def test_the_default_seed_data_matches_the_contract() -> None:
    data = load_seed_data(default_seed_data())
    assert sorted(data.hosts) == [101, 102, 103]
    assert {k: v.host_id for k, v in data.api_keys.items()} == {
        "cal_live_calharness_anna": 101,
        "cal_live_calharness_ben": 102,
        "cal_live_calharness_clara": 103,
    }
    summary = {
        et.id: (et.slug, et.length, et.scheduling_type, et.host_ids, et.requires_confirmation, et.minimum_notice)
        for et in data.event_types.values()
    }
    assert summary == {
        2001: ("beratung", 30, "individual", (101,), False, 60),
        2002: ("haarschnitt", 60, "individual", (102,), False, 60),
        2003: ("erstgespraech", 30, "individual", (101,), True, 60),
        2004: ("teamtermin", 30, "round_robin", (101, 102), False, 60),
        2005: ("fallbesprechung", 45, "collective", (101, 103), False, 60),
        2006: ("hamburg-beratung", 30, "individual", (103,), False, 60),
    }
