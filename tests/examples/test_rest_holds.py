"""The REST example's `--hold` (careful mode): a slot a caller's availability check finds free
is reserved at Cal.com for that caller, and `scenarios/races/test_slot_holds.py` proven both ways.

The API first (the service in-process next to the `fake_calcom` fixture, sharing its frozen
clock), then the scenario's own steps through a real `Session`/`World`: against the example in
this process (its clock is the fake's, so the hold's release is proven by moving that clock —
a black-box target has no shared clock, so the scenario that needs one is skipped there), and
against `ServedStack`'s `rest-careful-hold` and `rest-careful` processes. With the hold, A
keeps the slot and B is refused; without it B books, A is refused, and the scenario fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rest_support import ADA, API_KEY, BOB, SLOT, StartService, calcom_bookings

from calharness.served import REST_ADAPTER, ServedOptions, ServedStack
from examples.rest_booking import Settings, create_app
from examples.rest_booking.__main__ import main
from fake_calcom.loop_thread import LoopThread
from harness.history import History
from harness.session import Session
from harness.slots import parse_z
from harness.target import TargetError, parse_target
from harness.world import World, world_for
from scenarios.races.test_slot_holds import (
    CALLER_A,
    CALLER_B,
    a_held_slot_is_kept_for_its_caller,
    an_unused_hold_is_released,
)

CREATE = {"method": "POST", "path": "/v2/bookings"}
SLOTS = {"method": "GET", "path": "/v2/slots"}
RESERVE = {"method": "POST", "path": "/v2/slots/reservations"}
HELD_UNTIL = "2026-03-02T08:05:00Z"  # NOW + Cal.com's default 5 minutes


async def offer(service: Any, phone: str | None, start: str = SLOT) -> tuple[int, Any]:
    params = {"service": "Beratung", "start": start, **({"phone": phone} if phone else {})}
    return await service.call("GET", "/availability", **params)


def reservations(calcom: Any) -> list[dict[str, Any]]:
    return list(calcom.control.state()["reservations"])


def creates(calcom: Any) -> list[dict[str, Any]]:
    return [e for e in calcom.control.journal()["entries"]
            if (e["method"], e["path"]) == ("POST", "/v2/bookings")]


# -- the API --------------------------------------------------------------------------------------


async def test_a_free_slot_is_held_for_the_caller_who_asked(start_service: StartService,
                                                            calcom: Any) -> None:
    service = await start_service("careful", hold=True)
    status, ada = await offer(service, ADA)
    assert (status, ada) == (200, {"available": True, "start": SLOT, "alternatives": [],
                                   "held_until": HELD_UNTIL})
    [held] = reservations(calcom)
    assert (held["eventTypeId"], parse_z(held["start"]), held["holding"]) == (
        2001, parse_z(SLOT), True)

    # asking again keeps the one hold (Cal.com shows the holder its own reserved slot)
    assert (await offer(service, ADA))[1]["held_until"] == HELD_UNTIL
    assert len(reservations(calcom)) == 1
    # everyone else: not free, other times offered
    for phone in (BOB, None):
        status, other = await offer(service, phone)
        assert (status, other["available"]) == (200, False)
        assert other["alternatives"]
        assert "held_until" not in other

    status, refused = await service.book("Bob", BOB)
    assert (status, refused["error"]) == (409, "slot_taken")
    assert refused["alternatives"]
    assert SLOT not in refused["alternatives"]

    status, booked = await service.book("Ada", ADA)
    assert (status, booked["start"]) == (201, SLOT)
    [upstream] = calcom_bookings(calcom, ADA)
    assert upstream["uid"] == booked["calcom_uid"]
    assert creates(calcom)[-1]["request_body"]["reservedSlotUid"] == held["uid"]
    assert reservations(calcom) == []  # the booking consumed it
    assert calcom_bookings(calcom, BOB) == []


async def test_cal_com_itself_refuses_the_others_create(start_service: StartService,
                                                        calcom: Any) -> None:
    """Careful's second look (Cal.com's free slots, under the lock) already turns B away; when
    that look cannot be had, Cal.com's 409 for a reserved slot does, as `slot_taken`."""
    service = await start_service("careful", hold=True)
    await offer(service, ADA)
    calcom.control.add_fault({"match": SLOTS, "trigger": {"kind": "first", "k": 3},
                              "action": {"kind": "status", "status": 503}})
    status, refused = await service.book("Bob", BOB)
    assert (status, refused["error"], refused["reason"]) == (409, "slot_taken", "calcom_busy")
    assert refused["alternatives"]
    [create] = creates(calcom)
    assert create["status"] == 409
    assert "reservedSlotUid" not in create["request_body"]
    assert "Someone else reserved this booking time slot" in str(create["response_body"])
    assert (await service.book("Ada", ADA))[0] == 201


async def test_a_hold_runs_out_on_cal_coms_clock(start_service: StartService,
                                                 calcom: Any) -> None:
    service = await start_service("careful", hold=True)
    await offer(service, ADA)
    calcom.clock.advance(299)
    assert (await service.book("Bob", BOB))[0] == 409
    calcom.clock.advance(2)
    [lapsed] = reservations(calcom)
    assert lapsed["holding"] is False
    status, bob = await service.book("Bob", BOB)
    assert (status, bob["start"]) == (201, SLOT)
    status, ada = await service.book("Ada", ADA)
    assert (status, ada["error"]) == (409, "slot_taken")
    assert calcom_bookings(calcom, ADA) == []
    # and asked again, the slot is not offered to her: B holds it now
    assert (await offer(service, ADA))[1]["available"] is False


async def test_two_callers_asking_at_once_one_holds(start_service: StartService,
                                                   calcom: Any) -> None:
    service = await start_service("careful", hold=True)
    answers = await asyncio.gather(offer(service, ADA), offer(service, BOB))
    told = sorted((body["available"], "held_until" in body) for _, body in answers)
    assert told == [(False, False), (True, True)]
    assert len(reservations(calcom)) == 1


async def test_a_hold_granted_on_a_slot_booked_meanwhile(start_service: StartService,
                                                        calcom: Any) -> None:
    """Cal.com answers the reservation, but an outsider booked the slot just before
    (`reservation_taken`): the holder's create then meets a taken slot and is told so."""
    calcom.control.add_fault({"match": RESERVE, "trigger": {"kind": "first", "k": 1},
                              "action": {"kind": "reservation_taken"}})
    service = await start_service("careful", hold=True)
    assert (await offer(service, ADA))[1]["held_until"] == HELD_UNTIL
    status, refused = await service.book("Ada", ADA)
    assert (status, refused["error"]) == (409, "slot_taken")
    active = [b for b in calcom.control.state()["bookings"] if b["status"] == "accepted"]
    assert len(active) == 1  # the outsider's only
    assert calcom_bookings(calcom, ADA) == []


async def test_no_answer_to_the_reservation_offers_the_slot_unheld(
        start_service: StartService, calcom: Any) -> None:
    calcom.control.add_fault({"match": RESERVE, "trigger": {"kind": "always"},
                              "action": {"kind": "status", "status": 503}})
    service = await start_service("careful", hold=True)
    status, ada = await offer(service, ADA)
    assert (status, ada["available"]) == (200, True)
    assert "held_until" not in ada
    assert (await service.book("Bob", BOB))[0] == 201  # nothing held it


@pytest.mark.parametrize("hold", [False, True])
async def test_without_a_phone_or_without_hold_nothing_is_held(
        hold: bool, start_service: StartService, calcom: Any) -> None:
    service = await start_service("careful", hold=hold)
    status, answer = await offer(service, None if hold else ADA)
    assert (status, answer) == (200, {"available": True, "start": SLOT, "alternatives": []})
    assert reservations(calcom) == []
    status, bad = await offer(service, "030 1234")
    assert (status, bad["error"]) == (400, "invalid_request")


def test_hold_is_careful_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="careful"):
        Settings(calcom_url="http://127.0.0.1:9", calcom_api_key=API_KEY, hold=True)
    assert main(["--calcom-url", "http://127.0.0.1:9", "--calcom-api-key", API_KEY,
                 "--hold"]) == 2
    assert "--hold needs --mode careful" in capsys.readouterr().err


# -- the scenario, through a Session and a World --------------------------------------------------


@contextlib.contextmanager
def in_process(calcom: Any, tmp_path: Path, *, hold: bool,
               claim_hold: bool | None = None) -> Iterator[Session]:
    """The example (careful, `--hold` or not) on a loop thread of its own, on the fake's clock,
    and a session on it whose adapter says `hold = claim_hold` (default: as the service)."""
    settings = Settings(calcom_url=calcom.url, calcom_api_key=API_KEY, mode="careful",
                        database=f"sqlite:///{tmp_path}/holds-{next(_databases)}.db",
                        calcom_read_api_keys=("cal_live_calharness_ben",), clock=calcom.clock,
                        calcom_timeout_s=5.0, hold=hold)

    async def start() -> web.AppRunner:
        runner = web.AppRunner(await create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    with LoopThread("rest-example") as loop:
        runner = loop.run(start())
        try:
            host, port = runner.addresses[0][:2]
            target = parse_target({
                "service_url": f"http://{host}:{port}", "adapter": REST_ADAPTER,
                "allow_booking": True, "allow_faults": True,
                "companies": {"primary": {"api_key": "unused"}},
                "calcom": {"control_url": calcom.url},
                "adapter_settings": {"hold": hold if claim_hold is None else claim_hold}},
                "in-process")
            with Session(target) as session:
                yield session
        finally:
            loop.run(runner.cleanup())


_databases = itertools.count(1)


def statuses(history: History) -> list[tuple[str, str, str]]:
    """(call, operation, status) of each completed operation, in order."""
    return [(str(op.call_id).rsplit("-", 1)[-1], op.f, str(op.status))
            for op in history.operations]


def booked_names(world: World) -> list[str]:
    return [a["name"] for b in world.upstream() for a in b["attendees"]]


def test_the_hold_capability_is_offered_as_the_adapter_settings_say(calcom: Any,
                                                                    tmp_path: Path) -> None:
    with in_process(calcom, tmp_path, hold=True) as session:
        assert {"check", "book", "holds"} <= session.capabilities
        assert "clock" not in session.capabilities  # no test control: no shared clock
    with in_process(calcom, tmp_path, hold=False) as session:
        assert "holds" not in session.capabilities


def test_with_hold_caller_a_keeps_the_slot_and_b_is_refused(calcom: Any,
                                                           tmp_path: Path) -> None:
    with in_process(calcom, tmp_path, hold=True) as session, \
            world_for(session, judge=False) as world:
        a_held_slot_is_kept_for_its_caller(world)
        world.judge()
        assert statuses(world.history()) == [("call_hold_a", "check", "available"),
                                             ("call_hold_b", "collect", "slot_taken"),
                                             ("call_hold_a", "collect", "booked")]
        assert booked_names(world) == [CALLER_A]


def test_without_hold_b_books_a_is_refused_and_the_scenario_fails(calcom: Any,
                                                                  tmp_path: Path) -> None:
    """The same steps against careful without `--hold` (the adapter even claims the hold, so
    A's check carries A's phone): B books, A is refused. The scenario's assertion on B fails,
    so it is not vacuous — and the invariants pass: the service told everyone the truth."""
    with in_process(calcom, tmp_path, hold=False, claim_hold=True) as session, \
            world_for(session, judge=False) as world:
        with pytest.raises(AssertionError, match="caller B booked the slot just offered"):
            a_held_slot_is_kept_for_its_caller(world)
        slot = world.slot(days_ahead=2, hour=11)
        late = world.driver.collect(slot, call_id="call_hold_a", name=CALLER_A)
        assert late.status == "slot_taken"
        world.judge()
        assert statuses(world.history()) == [("call_hold_a", "check", "available"),
                                             ("call_hold_b", "collect", "booked"),
                                             ("call_hold_a", "collect", "slot_taken")]
        assert booked_names(world) == [CALLER_B]


def test_an_unused_hold_is_released_on_the_fakes_clock(calcom: Any, tmp_path: Path) -> None:
    """The second scenario's steps, the clock moved through the fake the example shares."""
    with in_process(calcom, tmp_path, hold=True) as session, \
            world_for(session, judge=False) as world:
        start = world.now()
        an_unused_hold_is_released(world, calcom.clock.advance)
        world.judge()
        assert world.now() - start == timedelta(seconds=301)
        assert [s for _, _, s in statuses(world.history())] == [
            "available", "slot_taken", "booked", "slot_taken"]
        assert booked_names(world) == [CALLER_B]
        [lapsed] = world.fake.state()["reservations"]
        assert lapsed["holding"] is False
        assert parse_z(lapsed["releaseAt"]) == start + timedelta(minutes=5)


@pytest.mark.parametrize(("service", "kept"), [("rest-careful-hold", True),
                                               ("rest-careful", False)])
def test_served_out_of_process(service: str, kept: bool) -> None:
    """`ServedStack` starts the example with `--hold` for `rest-careful-hold` and its target
    says `hold = true`; the scenario passes there and fails on `rest-careful`."""
    with ServedStack(ServedOptions(service=service)) as stack:
        assert dict(stack.target.adapter_settings) == ({"hold": True} if kept else {})
        with Session(stack.target) as session, world_for(session, judge=False) as world:
            assert ("holds" in session.capabilities) is kept
            if kept:
                a_held_slot_is_kept_for_its_caller(world)
            else:
                with pytest.raises(AssertionError, match="caller B booked"):
                    a_held_slot_is_kept_for_its_caller(world)
            world.judge()
            assert booked_names(world) == ([CALLER_A] if kept else [CALLER_B])


def test_the_hold_setting_must_be_a_boolean() -> None:
    target = parse_target({"service_url": "http://127.0.0.1:9", "adapter": REST_ADAPTER,
                           "companies": {"primary": {"api_key": "unused"}},
                           "adapter_settings": {"hold": "yes"}}, "test")
    with pytest.raises(TargetError, match="hold must be true or false"):
        Session(target).open()
