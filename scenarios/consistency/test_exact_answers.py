"""What a caller hears, exactly: the status, the reason and the sentence of the voice API for
each refusal a caller can provoke, and what the read API shows afterwards — not "some refusal".

A voice agent acts on `status` and `reason` (it asks for the missing field, offers the times,
apologises for a technical problem) and reads `message` aloud, so a wrong reason or a message
that names no time is a bug a caller meets. Pinned on the suite's clock (scenarios/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.slots import BERLIN, Slot
from harness.world import World

pytestmark = [pytest.mark.area("consistency"), pytest.mark.needs("voice_api", "check", "book")]


def said(answer: Any) -> tuple[Any, Any, Any]:
    body = answer.body if isinstance(answer.body, dict) else {}
    return body.get("status"), body.get("reason"), body.get("success")


def spoken(start: str) -> str:
    local = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(BERLIN)
    return f"{local:%d.%m.%Y} um {local:%H:%M} Uhr"


@pytest.mark.parametrize(("missing", "label"), [("datum", "das Datum"), ("uhrzeit", "die Uhrzeit"),
                                                 ("name", "Ihren Namen")])
def test_a_missing_field_is_named_to_the_caller(world: World, missing: str, label: str) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    answer = world.driver.collect(slot, name="Nora Fehlt", call_id=f"call_missing_{missing}",
                                  args={missing: ""})
    assert said(answer) == ("missing_required_field", missing, False), answer.body
    assert label in answer.body["message"], answer.body
    assert world.upstream() == []


def test_a_request_without_a_call_id_is_refused_naming_it(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    answer = world.driver.collect(slot, name="Otto Ohne", call_id="call_without",
                                  args={"call_id": ""})
    assert said(answer) == ("missing_required_field", "call_id", False), answer.body
    assert world.upstream() == []


def test_a_past_slot_is_refused_as_past(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    past = (world.now().astimezone(BERLIN) - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    answer = world.driver.collect(slot, name="Gerd Gestern", call_id="call_past",
                                  args={"datum": f"{past:%d.%m.%Y}", "uhrzeit": "10:00"})
    assert said(answer) == ("past_date", "in_the_past", False), answer.body
    assert "Vergangenheit" in answer.body["message"], answer.body
    # The answer names the instant it refused (the agent can say which time is past).
    assert answer.body["start"] == past.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), answer.body
    assert world.upstream() == []


def test_a_name_without_letters_is_refused(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    answer = world.driver.collect(slot, name="12345", call_id="call_digits")
    assert said(answer) == ("error", "invalid_name", False), answer.body
    assert world.upstream() == []


@pytest.mark.parametrize(("flag", "status"), [("true", "booked"), ("ja", "booked"),
                                              ("nein", "confirmation_required"),
                                              ("false", "confirmation_required")])
def test_the_confirmation_flag_as_the_agent_sends_it(world: World, flag: str, status: str) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    answer = world.driver.collect(slot, name="Clara Klar", call_id=f"call_flag_{flag}",
                                  args={"bestaetigung": flag})
    assert (answer.status, answer.body["success"]) == (status, True), answer.body
    assert spoken(slot.start) in answer.body["message"], answer.body
    held = world.upstream(start=slot)
    assert len(held) == (1 if status == "booked" else 0), held
    if status == "booked":
        assert "ist gebucht" in answer.body["message"], answer.body   # confirmed, not pending


def test_a_taken_slot_is_unavailable_with_spoken_alternatives(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=11)
    first = world.driver.collect(slot, name="Erna Erste", call_id="call_taken_a")
    assert first.status == "booked", first.body
    check = world.driver.check(slot, call_id="call_taken_b")
    assert (check.status, check.body["available"]) == ("unavailable", False), check.body
    only = world.driver.collect(slot, name="Zora Zweite", call_id="call_taken_b",
                                bestaetigung=False)
    assert said(only)[0::2] == ("slot_taken", False), only.body
    for answer in (check, only):
        alternatives = answer.body["alternatives"]
        assert alternatives, answer.body
        for alternative in alternatives:
            assert alternative["start"] != slot.start
            assert spoken(alternative["start"]) in answer.body["message"], answer.body
    # …and an offered alternative really is free: the second caller books it.
    offered = only.body["alternatives"][0]
    there = Slot(datetime.fromisoformat(offered["start"].replace("Z", "+00:00")).astimezone(BERLIN))
    assert (there.datum, there.uhrzeit) == (offered["datum"], offered["uhrzeit"]), offered
    booked = world.driver.collect(there, name="Zora Zweite", call_id="call_taken_b")
    assert (booked.status, booked.body["start"]) == ("booked", offered["start"]), booked.body


@pytest.mark.needs("second_tenant")
def test_one_call_id_at_two_practices_is_refused(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    first = world.driver.collect(slot, name="Ida Irgendwo", call_id="call_two_places")
    assert first.status == "booked", first.body
    other = world.driver.collect(slot.plus(60), name="Ida Irgendwo", call_id="call_two_places",
                                 to_number=world.hamburg.phone)
    assert said(other) == ("error", "call_id_conflict", False), other.body
    assert len(world.upstream()) == 1


@pytest.mark.needs("tenant_reads")
def test_the_read_api_shows_the_booking_as_booked(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=9)
    booked = world.driver.collect(slot, name="Rita Lesbar", call_id="call_read_back")
    assert booked.status == "booked", booked.body
    shown = world.driver.read("appointment", world.berlin.api_key, world.berlin.id,
                              appointment_id=booked.body["appointment_id"])
    assert shown.http_status == 200, shown.body
    body = shown.body
    (held,) = world.upstream(start=slot)
    assert (body["start"], body["booking_uid"], body["status"]) == (
        slot.start, held["uid"], "scheduled"), body
    assert body["customer"]["name"] == "Rita Lesbar", body
    assert body["event_type_id"] == held["eventTypeId"], body
    for stamp in ("created_at", "updated_at"):
        assert isinstance(body.get(stamp), str), body
        assert datetime.fromisoformat(body[stamp].replace("Z", "+00:00")) <= world.now() + \
            timedelta(seconds=5), body
