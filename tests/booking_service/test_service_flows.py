"""The voice flows end to end over HTTP against the fake Cal.com, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from service_stack import FALLBACK_EMAIL, NOW, S_DATUM, S_ISO, S_UHRZEIT, S, StackFactory

from booking_service import Defenses
from booking_service.slot_lock import slot_key


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def test_book_a_free_slot(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        check = await stack.retell(
            "check-availability", datum="Mittwoch", uhrzeit="vierzehn Uhr", call_id="call_a"
        )
        assert check["status"] == "available"
        assert check["success"] is True
        assert check["requested"] == {"start": S_ISO, "datum": "07.01.2026", "uhrzeit": "14:00"}

        answer = await stack.collect("call_a", datum="Mittwoch", uhrzeit="14 Uhr")
        assert answer["status"] == "booked", answer
        assert answer["success"] is True
        assert answer["reason"] is None
        assert answer["start"] == S_ISO
        assert "14:00 Uhr ist gebucht" in answer["message"]

        [appointment] = await stack.appointments()
        assert appointment.id == answer["appointment_id"]
        assert (appointment.start, appointment.status, appointment.source) == (
            S,
            "scheduled",
            "voice",
        )
        assert appointment.call_id == "call_a"
        assert appointment.host_id == 101
        assert appointment.calcom_booking_uid == answer["booking_uid"]
        [booking] = await stack.upstream()
        assert booking["uid"] == answer["booking_uid"]
        assert utc(booking["start"]) == S
        assert booking["metadata"]["call_id"] == "call_a"
        assert booking["metadata"]["company_id"] == str(appointment.company_id)
        assert booking["metadata"]["source"] == "voice"
        assert booking["metadata"]["idempotency_key"] == appointment.idempotency_key
        assert booking["attendees"][0]["email"] == FALLBACK_EMAIL  # no e-mail given: the fallback
        [created] = [e for e in await stack.audit() if e.action == "created"]
        assert created.appointment_id == appointment.id


async def test_callers_email_and_phone_go_to_calcom(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        answer = await stack.collect("call_a", email="hans@example.com", telefon="0170 1234567")
        assert answer["status"] == "booked"
        [booking] = await stack.upstream()
        assert booking["attendees"][0]["email"] == "hans@example.com"
        assert booking["attendees"][0]["phoneNumber"] == "+491701234567"


async def test_requires_confirmation_books_pending(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        answer = await stack.collect("call_a", service="Erstgespräch")
        assert answer["status"] == "booked"
        assert answer["reason"] == "pending_confirmation"
        assert "bestätigt" in answer["message"]
        assert [a.status for a in await stack.appointments()] == ["pending"]
        assert [b["status"] for b in await stack.upstream()] == ["pending"]


async def test_the_same_call_asking_again_gets_the_same_appointment(
    make_stack: StackFactory,
) -> None:
    async with make_stack() as stack:
        first = await stack.collect("call_a")
        again = await stack.collect("call_a")
        assert again["status"] == "booked"
        assert again["reason"] == "already_booked"
        assert again["appointment_id"] == first["appointment_id"]
        assert len(await stack.upstream()) == 1


async def test_bestaetigung_false_only_checks(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        answer = await stack.collect("call_a", bestaetigung="nein")
        assert answer["status"] == "confirmation_required"
        assert answer["success"] is True
        assert await stack.upstream() == []
        await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside", "email": "o@example.com"}, webhooks=False
        )
        taken = await stack.collect("call_a", bestaetigung=False)
        assert taken["status"] == "slot_taken"
        assert taken["alternatives"]


async def test_taken_slot_offers_nearby_alternatives(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        await stack.control.take_slot(
            2001, S_ISO, {"name": "Outside", "email": "o@example.com"}, webhooks=False
        )
        check = await stack.retell(
            "check-availability", datum="07.01.2026", uhrzeit="14:00", call_id="call_a"
        )
        assert check["status"] == "unavailable"
        assert check["available"] is False
        answer = await stack.collect("call_a")
        assert answer["status"] == "slot_taken"
        assert answer["reason"] == "calcom_slot_taken"
        assert [(a["datum"], a["uhrzeit"]) for a in answer["alternatives"]] == [
            ("07.01.2026", "13:30"),
            ("07.01.2026", "14:30"),
            ("08.01.2026", "09:00"),
        ]
        assert check["alternatives"] == answer["alternatives"]
        assert "13:30 Uhr" in answer["message"]


async def test_a_lost_race_at_calcom_is_race_condition_detected(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        await stack.control.add_fault(
            {
                "name": "conflict",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "always"},
                "action": {"kind": "status", "status": 409},
            }
        )
        answer = await stack.collect("call_a")
        assert answer["status"] == "race_condition_detected"
        assert answer["reason"] == "booking_conflict_error"
        assert answer["alternatives"]
        assert await stack.appointments() == []


async def test_round_robin_and_a_second_caller(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        first = await stack.collect("call_a", service="Teamtermin")
        assert first["status"] == "booked"
        [appointment] = await stack.appointments()
        assert appointment.host_id in (101, 102)


@pytest.mark.parametrize(
    ("args", "status", "reason"),
    [
        ({"datum": None}, "missing_required_field", "datum"),
        ({"uhrzeit": ""}, "missing_required_field", "uhrzeit"),
        ({"name": "   "}, "missing_required_field", "name"),
        ({"dienstleistung": None}, "missing_required_field", "dienstleistung"),
        ({"call_id": None}, "missing_required_field", "call_id"),
        ({"call_id": "call with spaces"}, "error", "invalid_call_id"),
        ({"dienstleistung": "Tätowieren"}, "unknown_service", "unknown_service"),
        ({"datum": "irgendwann"}, "invalid_date", "invalid_date"),
        ({"datum": "31.02.2026"}, "invalid_date", "invalid_date"),
        ({"uhrzeit": "gleich"}, "invalid_time", "invalid_time"),
        ({"datum": "02.01.2026"}, "past_date", "in_the_past"),
        ({"datum": "heute", "uhrzeit": "07:00"}, "past_date", "in_the_past"),
        ({"name": {"first": "Hans"}}, "error", "invalid_name"),
        (
            {"datum": "07.01.2026", "uhrzeit": "03:00"},
            "slot_taken",
            "calcom_slot_taken",
        ),  # outside working hours
    ],
)
async def test_bad_requests_get_a_clear_status(
    make_stack: StackFactory, args: dict[str, object], status: str, reason: str
) -> None:
    request = {
        "datum": "07.01.2026",
        "uhrzeit": "14:00",
        "name": "Hans Schuster",
        "dienstleistung": "Beratung",
        "call_id": "call_a",
    }
    async with make_stack() as stack:
        answer = await stack.retell("collect-appointment", **{**request, **args})
        assert (answer["status"], answer["reason"]) == (status, reason)
        assert answer["success"] is False
        assert answer["message"]
        assert await stack.upstream() == []


async def test_the_called_number_picks_the_tenant(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        answer = await stack.collect(
            "call_h", to_number="+49 40 987654"
        )  # Hamburg's Beratung = event type 2006
        assert answer["status"] == "booked", answer
        [booking] = await stack.upstream()
        assert booking["eventTypeId"] == 2006
        assert booking["attendees"][0]["email"] == "termin@praxis-hamburg.example"


# --- cancel and reschedule --------------------------------------------------------------------


async def test_cancel_by_appointment_id(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        answer = await stack.retell(
            "cancel-appointment", call_id="call_a", appointment_id=booked["appointment_id"]
        )
        assert answer["status"] == "cancelled", answer
        assert answer["success"] is True
        assert [a.status for a in await stack.appointments()] == ["cancelled"]
        assert [b["status"] for b in await stack.upstream()] == ["cancelled"]
        again = await stack.retell(
            "cancel-appointment", call_id="call_a", appointment_id=booked["appointment_id"]
        )
        assert again["status"] == "already_cancelled"


async def test_cancel_from_another_call_needs_the_callers_name(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        stranger = await stack.retell(
            "cancel-appointment", call_id="call_b", appointment_id=booked["appointment_id"]
        )
        assert stranger["status"] == "not_found"
        wrong = await stack.retell(
            "cancel-appointment",
            call_id="call_b",
            datum="07.01.2026",
            uhrzeit="14:00",
            name="Eva Else",
        )
        assert wrong["status"] == "not_found"
        right = await stack.retell(
            "cancel-appointment",
            call_id="call_b",
            datum="Mittwoch",
            uhrzeit="14 Uhr",
            name="hans schuster",
            grund="krank",
        )
        assert right["status"] == "cancelled", right
        assert right["appointment_id"] == booked["appointment_id"]
        assert [b["cancellationReason"] for b in await stack.upstream()] == ["krank"]


async def test_reschedule(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        await stack.flush()
        answer = await stack.retell(
            "reschedule-appointment",
            call_id="call_a",
            appointment_id=booked["appointment_id"],
            neues_datum="08.01.2026",
            neue_uhrzeit="halb zehn",
        )
        assert answer["status"] == "rescheduled", answer
        assert answer["start"] == "2026-01-08T08:30:00Z"
        assert answer["booking_uid"] != booked["booking_uid"]
        await stack.flush()  # Cal.com's BOOKING_RESCHEDULED must not add a third appointment
        appointments = await stack.appointments()
        assert [(a.status, a.calcom_booking_uid) for a in appointments] == [
            ("rescheduled", booked["booking_uid"]),
            ("scheduled", answer["booking_uid"]),
        ]
        assert appointments[1].call_id == "call_a"
        upstream = {b["uid"]: b["status"] for b in await stack.upstream()}
        assert upstream == {booked["booking_uid"]: "cancelled", answer["booking_uid"]: "accepted"}


async def test_reschedule_into_a_taken_slot(make_stack: StackFactory) -> None:
    async with make_stack() as stack:
        booked = await stack.collect("call_a")
        await stack.collect("call_b", name="Bernd Brot", uhrzeit="15:00")
        answer = await stack.retell(
            "reschedule-appointment",
            call_id="call_a",
            appointment_id=booked["appointment_id"],
            neues_datum="07.01.2026",
            neue_uhrzeit="15:00",
        )
        assert answer["status"] == "slot_taken"
        assert answer["alternatives"]
        assert [a.status for a in await stack.appointments()] == ["scheduled", "scheduled"]


# --- resilience ---------------------------------------------------------------------------------


async def test_rate_limit_waits_for_the_window_on_the_virtual_clock(
    make_stack: StackFactory,
) -> None:
    """A service configured to let callers wait (not the default) waits for the windows."""
    async with make_stack(
        rate_limit=True, rate_limit_per_minute=1, caller_rate_limit_wait_s=300
    ) as stack:
        before = stack.clock.now()
        answer = await stack.collect("call_a")  # slots, then the create is over the limit
        assert answer["status"] == "booked", answer
        waited = (stack.clock.now() - before).total_seconds()
        assert waited >= 1
        waits = stack.ctx.metrics.registry.get_sample_value(
            "booking_service_calcom_rate_limit_waits_total"
        )
        assert waits is not None
        assert waits >= 1


THROTTLE_FIRST_CREATE = {
    "name": "throttled",
    "match": {"method": "POST", "path": "/v2/bookings"},
    "trigger": {"kind": "nth", "n": 1},
    "action": {"kind": "status", "status": 429},  # Reset-Default 60, as Cal.com's 60 s block
}


@pytest.mark.parametrize("caller_wait_s", [5.0, 65.0], ids=["phone-default", "patient"])
async def test_a_429_on_the_create_is_answered_at_once_unless_the_caller_may_wait(
    make_stack: StackFactory, caller_wait_s: float
) -> None:
    """Cal.com answers the create with 429 and a 60 s window. Waiting it out would hold the
    caller in silence and the slot lock for a minute (every other caller for the slot would
    time out on the lock). By default the caller hears `rate_limited` at once — no wait, no
    second create — and the next caller for the slot too, without Cal.com being asked."""
    async with make_stack(webhooks=False, caller_rate_limit_wait_s=caller_wait_s) as stack:
        await stack.control.add_fault(THROTTLE_FIRST_CREATE)
        before = stack.clock.now()
        answer = await stack.collect("call_a")
        waited = (stack.clock.now() - before).total_seconds()
        waits = stack.ctx.metrics.registry.get_sample_value(
            "booking_service_calcom_rate_limit_waits_total"
        )
        if caller_wait_s > 60:
            assert answer["status"] == "booked", answer
            assert (waited, waits) == (60, 1)
            return
        assert (answer["status"], answer["reason"]) == ("rate_limited", "calcom_rate_limit")
        assert (waited, waits) == (0, 0)
        assert await stack.upstream() == []
        sent = (await stack.control.stats())["requests"]
        other = await stack.collect("call_b", name="Bernd Brot")
        assert (other["status"], other["reason"]) == ("rate_limited", "calcom_rate_limit")
        assert (await stack.control.stats())["requests"] == sent  # the window is known closed
        stack.clock.advance(60)
        again = await stack.collect("call_a")  # the agent asks again once the window is over
        assert again["status"] == "booked", again
        assert [b["uid"] for b in await stack.upstream()] == [again["booking_uid"]]


class ParkingClock:
    """The stack's clock, except that a policy wait parks until the test lets it go."""

    def __init__(self) -> None:
        self.inner: Any = None
        self.waiting = asyncio.Event()
        self.go = asyncio.Event()

    def now(self) -> datetime:
        return self.inner.now() if self.inner is not None else NOW

    async def sleep(self, seconds: float) -> None:
        self.waiting.set()
        await self.go.wait()
        self.inner.advance(seconds)


async def test_a_closed_window_is_waited_for_before_the_slot_lock(
    make_stack: StackFactory,
) -> None:
    """The caller's availability check used the key's last request of the window: the collect
    waits for the next window before it takes the slot lock, not holding it (every other caller
    for the slot would queue behind a lock held through the wait)."""
    clock = ParkingClock()
    async with make_stack(webhooks=False, clock=clock, caller_rate_limit_wait_s=60) as stack:
        clock.inner = stack.clock
        await stack.control.set_rate_limit(enabled=True, limit=1, window_s=3, block_s=3)
        checked = await stack.retell(
            "check-availability", datum=S_DATUM, uhrzeit=S_UHRZEIT, call_id="call_a"
        )
        assert checked["status"] == "available", checked
        collect = asyncio.create_task(stack.collect("call_a"))
        await asyncio.wait_for(clock.waiting.wait(), 10)
        queued = stack.ctx.slot_locks.queue.flows(slot_key(1, S))  # type: ignore[attr-defined]
        clock.go.set()
        answer = await collect
        assert queued == 0  # waiting for the window, not holding or queueing for the lock
        assert answer["status"] == "booked", answer


async def test_rate_limit_beyond_the_wait_budget_is_rate_limited(make_stack: StackFactory) -> None:
    async with make_stack(
        rate_limit=True, rate_limit_per_minute=1, max_rate_limit_wait_s=5
    ) as stack:
        answer = await stack.collect("call_a")
        assert answer["status"] in ("rate_limited", "upstream_unavailable"), answer
        assert answer["status"] == "rate_limited"
        assert await stack.upstream() == []


async def test_circuit_opens_and_recovers(make_stack: StackFactory) -> None:
    async with make_stack(
        circuit_failure_threshold=3, retry_attempts=1, circuit_open_s=30
    ) as stack:
        await stack.control.add_fault(
            {
                "name": "down",
                "match": {"method": "GET", "path": "/v2/slots"},
                "trigger": {"kind": "always"},
                "action": {"kind": "status", "status": 503},
            }
        )
        check = {"datum": "07.01.2026", "uhrzeit": "14:00", "call_id": "call_a"}
        assert (await stack.retell("check-availability", **check))[
            "status"
        ] == "upstream_unavailable"
        opened = await stack.retell("check-availability", **check)
        assert opened["status"] == "circuit_open"
        assert (await stack.collect("call_a"))["status"] == "circuit_open"
        await stack.control.clear_faults()
        assert (await stack.retell("check-availability", **check))[
            "status"
        ] == "circuit_open"  # still open
        stack.clock.advance(30)
        assert (await stack.retell("check-availability", **check))[
            "status"
        ] == "available"  # half-open probe
        assert stack.ctx.calcom.circuit.state == "closed"


@pytest.mark.parametrize(
    "action", [{"kind": "reset", "phase": "before"}, {"kind": "status", "status": 502}]
)
async def test_transient_failures_before_the_create_are_retried(
    make_stack: StackFactory, action: dict[str, object]
) -> None:
    async with make_stack() as stack:
        await stack.control.add_fault(
            {
                "name": "blip",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "first", "k": 2},
                "action": action,
            }
        )
        answer = await stack.collect("call_a")
        assert answer["status"] == "booked", answer
        assert len(await stack.upstream()) == 1


@pytest.mark.parametrize(
    "action",
    [
        {"kind": "status", "status": 500, "phase": "after"},
        {"kind": "reset", "phase": "after"},
        {"kind": "truncate"},
        {"kind": "malformed"},
        {"kind": "empty"},
    ],
)
@pytest.mark.parametrize(
    "service", ["Beratung", "Haarschnitt", "Teamtermin"]
)  # host 101, 102, either
async def test_ambiguous_create_outcomes_never_book_twice(
    make_stack: StackFactory, action: dict[str, object], service: str
) -> None:
    async with make_stack() as stack:
        if (
            service == "Teamtermin"
        ):  # round robin must pick Ben (102), whose bookings Anna's key cannot list
            await stack.control.take_slot(
                2001, S_ISO, {"name": "Outside", "email": "o@example.com"}, webhooks=False
            )
        await stack.control.add_fault(
            {
                "name": "ambiguous",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "nth", "n": 1},
                "action": action,
            }
        )
        answer = await stack.collect("call_a", service=service)
        assert answer["status"] == "booked", answer
        [booking] = [b for b in await stack.upstream() if b["metadata"].get("call_id") == "call_a"]
        assert booking["uid"] == answer["booking_uid"]
        assert len(await stack.active_upstream_at()) == (2 if service == "Teamtermin" else 1)


async def test_unresolvable_outcome_is_reported_as_unknown_and_reconcile_recovers_it(
    make_stack: StackFactory,
) -> None:
    async with make_stack(calcom_timeout_s=0.3) as stack:
        await stack.control.add_fault(
            {
                "name": "hang",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "nth", "n": 1},
                "action": {"kind": "hang", "phase": "after", "max_ms": 5000},
            }
        )
        await stack.control.add_fault(
            {
                "name": "list-down",
                "match": {"method": "GET", "path": "/v2/bookings"},
                "trigger": {"kind": "always"},
                "action": {"kind": "status", "status": 503},
            }
        )
        answer = await stack.collect("call_a")
        assert (answer["status"], answer["reason"]) == ("timeout", "outcome_unknown")
        assert answer["success"] is False
        [booking] = await stack.upstream()  # it did happen, and nothing was booked twice
        assert await stack.appointments() == []

        await stack.control.clear_faults()
        assert stack.ctx.calcom.circuit.state == "open"  # five failures in a row
        stack.clock.advance(30)
        status, report = await stack.post(
            "/api/reconcile", {"repair": True}, headers={"Authorization": "Bearer bs_demo_berlin"}
        )
        assert status == 200
        assert [m["booking_uid"] for m in report["missing"]] == [booking["uid"]]
        assert report["repaired"] == 1
        [appointment] = await stack.appointments()
        assert (appointment.calcom_booking_uid, appointment.call_id, appointment.source) == (
            booking["uid"],
            "call_a",
            "reconcile",
        )


async def test_unreachable_calcom_is_upstream_unavailable(database_url: str) -> None:
    from service_stack import open_stack

    async with open_stack(database_url, webhooks=False, retry_attempts=1) as stack:
        stack.ctx.calcom.base_url = "http://127.0.0.1:9"  # nothing listens there
        answer = await stack.collect("call_a")
        assert answer["status"] == "upstream_unavailable"
        assert answer["reason"] == "connection"


@pytest.mark.parametrize("lookup", [True, False], ids=["lookup-on", "lookup-off"])
@pytest.mark.parametrize(
    "action",
    [
        {"kind": "status", "status": 409, "phase": "after"},
        {"kind": "status", "status": 400, "phase": "after"},
        {"kind": "rewrite", "set": {"data.metadata.call_id": "call_other"}},
        {"kind": "rewrite", "set": {"data.attendees.0.name": "Somebody Else"}},
    ],
)
async def test_a_refusal_or_corrupted_answer_after_the_commit_is_not_a_lost_booking(
    make_stack: StackFactory, action: dict[str, object], lookup: bool
) -> None:
    """Cal.com committed, then answered no (or garbled): ambiguous_create_lookup finds the booking."""
    defenses = Defenses() if lookup else Defenses().without("ambiguous_create_lookup")
    async with make_stack(defenses=defenses) as stack:
        await stack.control.add_fault(
            {
                "name": "after-commit",
                "match": {"method": "POST", "path": "/v2/bookings"},
                "trigger": {"kind": "nth", "n": 1},
                "action": action,
            }
        )
        answer = await stack.collect("call_a")
        [booking] = await stack.active_upstream_at()
        assert booking["metadata"]["call_id"] == "call_a"
        if lookup:
            assert answer["status"] == "booked", answer
            assert answer["booking_uid"] == booking["uid"]
        else:  # told no while Cal.com holds a booking for this call: lost
            assert answer["status"] != "booked", answer
            assert await stack.appointments() == []


async def test_round_robin_gives_two_customers_the_two_hosts(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        answers = [
            await stack.collect(call, name=name, email=email, service="Teamtermin")
            for call, name, email in (
                ("call_a", "Anna Alt", "anna.alt@example.com"),
                ("call_b", "Bernd Brot", "bernd.brot@example.com"),
                ("call_c", "Carla Dritt", "carla@example.com"),
            )
        ]
        assert [a["status"] for a in answers] == ["booked", "booked", "slot_taken"], answers
        assert answers[2]["reason"] == "local_appointment"  # both hosts busy, known locally
        assert sorted(b["hostIds"][0] for b in await stack.active_upstream_at()) == [101, 102]


async def test_callers_sharing_a_phone_keep_their_own_names(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        first = await stack.collect(
            "call_687", name="Hansi Sputer", telefon="+493012345678", uhrzeit="09:00"
        )
        second = await stack.collect(
            "call_688", name="Hans Schuster", telefon="+493012345678", uhrzeit="11:00"
        )
        assert (first["status"], second["status"]) == ("booked", "booked")
        _, listed = await stack.get("/api/appointments", "bs_demo_berlin")
        assert {a["call_id"]: a["customer"]["name"] for a in listed["appointments"]} == {
            "call_687": "Hansi Sputer",
            "call_688": "Hans Schuster",
        }
        status, report = await stack.post(
            "/api/reconcile", {}, headers={"Authorization": "Bearer bs_demo_berlin"}
        )
        assert (status, report["mismatches"]) == (200, [])
