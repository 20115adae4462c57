"""The REST example: its API in both modes, and the faults that tell naive from careful.

Every mode difference is forced with the fake's faults (docs/contracts.md §1.5) at a frozen
clock — no sleeps; the only waits are the fake's own (a barrier's timeout, a hang's client
timeout), a few hundred milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rest_support import ADA, BOB, LATER, SLOT, StartService, calcom_bookings

from examples.rest_booking.__main__ import main

MODES = ["naive", "careful"]

CREATE = {"method": "POST", "path": "/v2/bookings"}


def first_create(action: dict[str, Any]) -> dict[str, Any]:
    return {"match": CREATE, "trigger": {"kind": "first", "k": 1}, "action": action}


# -- the API, in both modes ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_book_list_reschedule_cancel(mode: str, start_service: StartService,
                                           calcom: Any) -> None:
    service = await start_service(mode)
    status, free = await service.call("GET", "/availability", service="Beratung", start=SLOT)
    assert (status, free["available"]) == (200, True)

    status, booking = await service.book("Ada Lovelace", ADA, email="ada@example.com")
    assert status == 201
    assert (booking["status"], booking["start"]) == ("confirmed", SLOT)
    [upstream] = calcom_bookings(calcom, ADA)
    assert upstream["uid"] == booking["calcom_uid"]
    assert upstream["metadata"].get("call_id") is None  # nothing names the call, either mode

    _, by_phone = await service.call("GET", "/bookings", phone=ADA)
    _, by_day = await service.call("GET", "/bookings", date="2026-03-03")
    # the Berlin day, in offsets: the booking at 10:00 Berlin is on it, not on the next
    _, berlin = await service.call("GET", "/bookings", **{"from": "2026-03-03T00:00:00+01:00",
                                                          "to": "2026-03-04T00:00:00+01:00"})
    _, later = await service.call("GET", "/bookings", phone=ADA, **{
        "from": "2026-03-04T00:00:00+01:00", "to": "2026-03-05T00:00:00+01:00"})
    assert [b["id"] for b in by_phone["bookings"]] == [b["id"] for b in by_day["bookings"]] \
        == [b["id"] for b in berlin["bookings"]] == [booking["id"]]
    assert later["bookings"] == []

    status, moved = await service.call("PATCH", f"/bookings/{booking['id']}", {"start": LATER})
    assert status == 200
    assert (moved["id"], moved["start"]) == (booking["id"], LATER)
    assert moved["replaced_calcom_bookings"] == [{"calcom_uid": booking["calcom_uid"],
                                                  "start": SLOT}]
    assert [b["uid"] for b in calcom_bookings(calcom, ADA)] == [moved["calcom_uid"]]

    status, cancelled = await service.call("DELETE", f"/bookings/{booking['id']}")
    assert (status, cancelled["status"]) == (200, "cancelled")
    assert calcom_bookings(calcom, ADA) == []
    status, again = await service.call("DELETE", f"/bookings/{booking['id']}")
    assert (status, again["status"]) == (200, "cancelled")


@pytest.mark.parametrize("mode", MODES)
async def test_slot_taken_with_alternatives(mode: str, start_service: StartService) -> None:
    service = await start_service(mode)
    assert (await service.book("Ada", ADA))[0] == 201
    status, refused = await service.book("Bob", BOB)
    assert (status, refused["error"]) == (409, "slot_taken")
    assert refused["alternatives"]
    assert SLOT not in refused["alternatives"]
    _, free = await service.call("GET", "/availability", service="beratung", start=SLOT)
    assert free["available"] is False
    assert free["alternatives"] == refused["alternatives"]


@pytest.mark.parametrize("mode", MODES)
async def test_reschedule_onto_a_taken_slot(mode: str, start_service: StartService) -> None:
    service = await start_service(mode)
    _, ada = await service.book("Ada", ADA)
    await service.book("Bob", BOB, start=LATER)
    status, refused = await service.call("PATCH", f"/bookings/{ada['id']}", {"start": LATER})
    assert (status, refused["error"]) == (409, "slot_taken")
    _, still = await service.call("GET", f"/bookings/{ada['id']}")
    assert (still["start"], still["calcom_uid"]) == (SLOT, ada["calcom_uid"])


@pytest.mark.parametrize(("body", "error", "words"), [
    ({"service": "Yoga", "start": SLOT, "name": "Ada", "phone": ADA}, "unknown_service", "Yoga"),
    ({"service": "Beratung", "start": "2026-03-03T10:00", "name": "Ada", "phone": ADA},
     "invalid_request", "no time zone"),
    ({"service": "Beratung", "start": "2026-03-01T10:00:00Z", "name": "Ada", "phone": ADA},
     "invalid_request", "in the past"),
    ({"service": "Beratung", "start": SLOT, "name": "Ada", "phone": "030 1234"},
     "invalid_request", "international"),
    ({"service": "Beratung", "start": SLOT, "name": "Ada"}, "invalid_request", "phone"),
    ({"service": "Beratung", "start": SLOT, "name": "Ada", "phone": ADA, "when": "now"},
     "invalid_request", "unknown field(s): when"),
])
async def test_bad_input_is_400_and_says_why(body: dict[str, Any], error: str, words: str,
                                             start_service: StartService) -> None:
    service = await start_service("naive")
    status, answer = await service.call("POST", "/bookings", body)
    assert (status, answer["error"]) == (400, error)
    assert words in answer["message"]


async def test_unknown_booking_and_listing_without_filter(start_service: StartService) -> None:
    service = await start_service("careful")
    assert (await service.call("DELETE", "/bookings/99"))[0] == 404
    assert (await service.call("GET", "/bookings/abc"))[0] == 404
    status, answer = await service.call("GET", "/bookings")
    assert status == 400
    assert "phone=" in answer["message"]
    status, answer = await service.call("GET", "/bookings", **{"from": SLOT})
    assert (status, answer["message"]) == (400, "give both from and to")
    assert (await service.call("GET", "/healthz"))[1] == {"status": "ok", "mode": "careful",
                                                          "database": "sqlite"}


def test_cli_explains_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, words in ((["--calcom-url", "x"], "not an http(s) URL"),
                        (["--calcom-url", "http://h", "--calcom-api-key", "k",
                          "--database", "mysql://db"], "sqlite:///"),
                        (["--calcom-url", "http://h", "--calcom-api-key", "k",
                          "--service", "Beratung"], "NAME=EVENT_TYPE_ID"),
                        (["--calcom-url", "http://h", "--calcom-api-key", "k",
                          "--mode", "sloppy"], "invalid choice")):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        assert words in capsys.readouterr().err
    assert main(["--calcom-url", "http://h", "--calcom-api-key", "secret"]) == 2
    assert "cal_" in capsys.readouterr().err


# -- where the modes differ ---------------------------------------------------------------------


AFTER_THE_COMMIT = [{"kind": "status", "status": 503, "phase": "after"}, {"kind": "malformed"},
                    {"kind": "truncate"}, {"kind": "reset", "phase": "after"}]


@pytest.mark.parametrize("action", AFTER_THE_COMMIT, ids=lambda a: a["kind"])
@pytest.mark.parametrize(("mode", "told"), [("naive", 409), ("careful", 201)])
async def test_an_answer_lost_after_the_commit(mode: str, told: int, action: dict[str, Any],
                                               start_service: StartService, calcom: Any) -> None:
    """Cal.com books, then its answer is lost (a 503, an unreadable or cut body, a reset).
    Naive sends the create again, Cal.com says the host is busy (with the caller's own booking)
    and the caller hears "slot taken": a lost booking. Careful looks the booking up under its
    idempotency key and confirms it."""
    calcom.control.add_fault(first_create(action))
    service = await start_service(mode)
    status, answer = await service.book("Ada", ADA)
    [upstream] = calcom_bookings(calcom, ADA)
    assert status == told
    if mode == "careful":
        assert answer["calcom_uid"] == upstream["uid"]
        assert upstream["metadata"]["idempotency_key"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_hang_after_the_commit(mode: str, start_service: StartService,
                                       calcom: Any) -> None:
    """The brief's hang: the answer never comes (the client gives up after 0.3 s)."""
    calcom.control.add_fault(first_create({"kind": "hang", "phase": "after"}))
    service = await start_service(mode, calcom_timeout_s=0.3)
    status, answer = await service.book("Ada", ADA)
    [upstream] = calcom_bookings(calcom, ADA)
    if mode == "naive":
        assert (status, answer["error"]) == (409, "slot_taken")  # told no; Cal.com holds it
    else:
        assert (status, answer["calcom_uid"]) == (201, upstream["uid"])


@pytest.mark.parametrize("mode", MODES)
async def test_every_answer_lost(mode: str, start_service: StartService, calcom: Any) -> None:
    """Each create's connection is reset after Cal.com handled it. Naive tells the caller it
    failed (422) though Cal.com holds the booking; careful finds and confirms it."""
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "always"},
                              "action": {"kind": "reset", "phase": "after"}})
    service = await start_service(mode)
    status, answer = await service.book("Ada", ADA)
    [upstream] = calcom_bookings(calcom, ADA)
    if mode == "naive":
        assert (status, answer["error"], answer["reason"]) == (422, "booking_failed",
                                                               "calcom_unavailable")
        assert (await service.call("GET", "/bookings", phone=ADA))[1]["bookings"] == []
    else:
        assert (status, answer["calcom_uid"]) == (201, upstream["uid"])


@pytest.mark.parametrize(("mode", "copies"), [("naive", 2), ("careful", 1)])
async def test_a_blind_resend_books_twice(mode: str, copies: int, start_service: StartService,
                                          calcom: Any) -> None:
    """503 after the commit, and Cal.com accepts an overlapping second create (the fake's
    `overbook`, as Cal.com without its host-slot key would): naive's resend is a duplicate."""
    calcom.control.add_fault(first_create({"kind": "status", "status": 503, "phase": "after"}))
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "nth", "n": 2},
                              "action": {"kind": "overbook"}})
    service = await start_service(mode)
    status, answer = await service.book("Ada", ADA)
    upstream = calcom_bookings(calcom, ADA)
    assert status == 201
    assert len(upstream) == copies
    assert answer["calcom_uid"] in {b["uid"] for b in upstream}


@pytest.mark.parametrize("mode", MODES)
async def test_a_stale_replay_hands_over_someone_elses_booking(
        mode: str, start_service: StartService, calcom: Any) -> None:
    """Cal.com answers the create with an hour-old booking at that start (another event type,
    another attendee). Naive confirms it to the caller: stolen. Careful refuses it."""
    outside = calcom.control.take_slot(2002, SLOT, {"name": "Outside Booker",
                                                    "email": "outside@example.com"}, age_s=3600)
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "always"},
                              "action": {"kind": "stale_replay", "key": "start"}})
    service = await start_service(mode)
    status, answer = await service.book("Ada", ADA)
    if mode == "naive":
        assert (status, answer["calcom_uid"]) == (201, outside["uid"])
    else:
        assert (status, answer["reason"]) == (422, "calcom_returned_another_booking")
        assert (await service.call("GET", "/bookings", phone=ADA))[1]["bookings"] == []


@pytest.mark.parametrize(("mode", "winners"), [("naive", 2), ("careful", 1)])
async def test_two_callers_one_slot(mode: str, winners: int, start_service: StartService,
                                    calcom: Any) -> None:
    """Both creates pass Cal.com's availability check together (the fake's barrier, keyed by
    attendee as Cal.com's idempotency key was until 2025): naive double-books the host. Careful's
    slot lock sends one create; the barrier gives up waiting for a second after 0.3 s."""
    calcom.control.add_fault({"match": CREATE, "trigger": {"kind": "always"}, "action": {
        "kind": "barrier", "parties": 2, "timeout_ms": 300, "key": "attendee"}})
    service = await start_service(mode)
    answers = await asyncio.gather(service.book("Ada", ADA, email="ada@example.com"),
                                   service.book("Bob", BOB, email="bob@example.com"))
    assert sorted(status for status, _ in answers) == [201] * winners + [409] * (2 - winners)
    at_slot = [b for b in calcom.control.state()["bookings"] if b["status"] == "accepted"]
    assert len(at_slot) == winners


@pytest.mark.parametrize("mode", MODES)
async def test_the_same_caller_asking_again(mode: str, start_service: StartService,
                                            calcom: Any) -> None:
    """Careful hands a caller who asks again the booking they hold (phone and name: two people
    may share a landline); naive sends the create, and Cal.com says the host is busy."""
    service = await start_service(mode)
    _, first = await service.book("Hansi Sputer", ADA)
    status, again = await service.book("hansi  sputer", ADA)
    if mode == "careful":
        assert (status, again["id"]) == (200, first["id"])
    else:
        assert (status, again["error"]) == (409, "slot_taken")
    status, namesake = await service.book("Hans Schuster", ADA)
    assert (status, namesake["error"]) == (409, "slot_taken")
    assert len(calcom_bookings(calcom, ADA)) == 1


async def test_careful_request_id_makes_a_retry_harmless(start_service: StartService,
                                                         calcom: Any) -> None:
    service = await start_service("careful")
    status, first = await service.book("Ada", ADA, request_id="req-1")
    again, second = await service.book("Ada", ADA, request_id="req-1")
    assert (status, again, second["id"]) == (201, 200, first["id"])
    assert len(calcom_bookings(calcom, ADA)) == 1


SLOTS = {"method": "GET", "path": "/v2/slots"}


@pytest.mark.parametrize(("mode", "told"), [("naive", 503), ("careful", 200)])
async def test_a_burst_of_failed_slot_reads(mode: str, told: int, start_service: StartService,
                                            calcom: Any) -> None:
    """The first two slot reads fail: careful reads again (a read changes nothing), naive gives
    up at once."""
    calcom.control.add_fault({"match": SLOTS, "trigger": {"kind": "first", "k": 2},
                              "action": {"kind": "status", "status": 503}})
    service = await start_service(mode)
    status, _ = await service.call("GET", "/availability", service="Beratung", start=SLOT)
    assert status == told


async def test_careful_looks_up_a_201_without_uid(start_service: StartService,
                                                  calcom: Any) -> None:
    """A 201 whose booking has no uid names nothing to cancel or move by: careful finds the
    booking under its idempotency key instead of storing it uid-less."""
    calcom.control.add_fault(first_create({"kind": "rewrite", "set": {"data.uid": None}}))
    service = await start_service("careful")
    status, answer = await service.book("Ada", ADA)
    [upstream] = calcom_bookings(calcom, ADA)
    assert (status, answer["calcom_uid"]) == (201, upstream["uid"])


LOST_AFTER = [{"kind": "status", "status": 503, "phase": "after"}, {"kind": "reset", "phase": "after"}]


@pytest.mark.parametrize("action", LOST_AFTER, ids=lambda a: a["kind"])
@pytest.mark.parametrize(("mode", "told"), [("naive", 502), ("careful", 200)])
async def test_a_move_whose_answer_is_lost(mode: str, told: int, action: dict[str, Any],
                                           start_service: StartService, calcom: Any) -> None:
    """Cal.com moves the booking (a new one, the old one cancelled) and the answer is lost.
    Careful reads the old booking, follows `rescheduledToUid` and moves its row; nothing is
    sent twice. Naive tells the caller it does not know."""
    service = await start_service(mode)
    _, booking = await service.book("Ada", ADA)
    calcom.control.add_fault({"match": {"method": "POST", "path": "/v2/bookings/*/reschedule"},
                              "trigger": {"kind": "first", "k": 1}, "action": action})
    status, moved = await service.call("PATCH", f"/bookings/{booking['id']}", {"start": LATER})
    [upstream] = calcom_bookings(calcom, ADA)
    assert (status, upstream["start"]) == (told, LATER.replace("Z", ".000Z"))
    if mode == "careful":
        assert (moved["start"], moved["calcom_uid"]) == (LATER, upstream["uid"])
    sent = calcom.control.stats()["requests"]
    assert sum(n for k, n in sent.items()
               if k.startswith("POST /v2/bookings/{uid}/reschedule ")) == 1


@pytest.mark.parametrize("action", LOST_AFTER, ids=lambda a: a["kind"])
@pytest.mark.parametrize(("mode", "told"), [("naive", 502), ("careful", 200)])
async def test_a_cancel_whose_answer_is_lost(mode: str, told: int, action: dict[str, Any],
                                             start_service: StartService, calcom: Any) -> None:
    """Cal.com cancels and the answer is lost: careful reads the booking, finds it cancelled
    and says so; naive tells the caller it does not know."""
    service = await start_service(mode)
    _, booking = await service.book("Ada", ADA)
    calcom.control.add_fault({"match": {"method": "POST", "path": "/v2/bookings/*/cancel"},
                              "trigger": {"kind": "first", "k": 1}, "action": action})
    status, _ = await service.call("DELETE", f"/bookings/{booking['id']}")
    assert status == told
    assert calcom_bookings(calcom, ADA) == []
    _, row = await service.call("GET", f"/bookings/{booking['id']}")
    assert row["status"] == ("cancelled" if mode == "careful" else "confirmed")
