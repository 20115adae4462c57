"""SQL injection in every text field of every endpoint (seeds/001 §6.1).

Each payload goes into one field at a time, the other fields as a real caller would give them, so
the payload gets as far into the service as that field goes (parsers, the database, Cal.com).
The voice endpoints must answer 200 with a clear status; the read API a 2xx/4xx JSON answer
with nothing of another tenant and nothing of the database's internals; the webhook receiver
200/400. Afterwards the database must be intact: every table there, the tenants unchanged, the
appointment booked before the attack unchanged — and the judge finds every invariant kept.
Payloads that are stored (a name, a cancellation reason) must come back verbatim: stored as
data, never executed.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.clients.service import Answer
from harness.slots import Slot
from harness.world import World
from scenarios.security._support import (
    SQL_PAYLOADS,
    assert_clear_voice_answer,
    assert_database_intact,
    assert_nothing_leaked,
    database_snapshot,
    later,
    sign,
    webhook_body,
)

# Embedded only: the database is inspected directly, outside bookings come from the fake, and
# the request count would exceed a staging target's budget.
pytestmark = [pytest.mark.area("security")]

OWNER = {"name": "Max Mustermann", "telefon": "+4915112345678", "call_id": "call_sql_owner"}
STRANGER = {"name": "Erika Musterfrau", "call_id": "call_sql_stranger"}

#: The fields of each voice endpoint (contract §2.3); `to_number` is the call's dialled number.
VOICE_FIELDS: dict[str, tuple[str, ...]] = {
    "check-availability": ("datum", "uhrzeit", "dienstleistung", "call_id", "to_number"),
    "collect-appointment": ("datum", "uhrzeit", "name", "telefon", "email", "dienstleistung",
                            "call_id", "bestaetigung", "to_number"),
    "cancel-appointment": ("call_id", "appointment_id", "datum", "uhrzeit", "name", "telefon",
                           "grund", "to_number"),
    "reschedule-appointment": ("call_id", "appointment_id", "datum", "uhrzeit", "neues_datum",
                               "neue_uhrzeit", "name", "telefon", "to_number"),
}


def book_owner(world: World, slot: Slot) -> int:
    answer = world.driver.collect(slot, **OWNER)
    assert answer.status == "booked", answer.body
    return int(answer.body["appointment_id"])


def voice_request(world: World, endpoint: str, field: str, payload: str, n: int, *,
                  owned: Slot, free: Slot) -> Answer:
    """One request to `endpoint` with `payload` in `field`, from a caller who owns nothing: the
    base arguments are valid, so only the payload decides what happens."""
    args: dict[str, Any] = {} if field == "to_number" else {field: payload}
    to_number = payload if field == "to_number" else None
    call_id = f"call_sql_{n:04d}"
    process = f"injector-{n}"
    d = world.driver
    if endpoint == "check-availability":
        return d.check(free, call_id=call_id, process=process, to_number=to_number, args=args)
    if endpoint == "collect-appointment":
        # Without a phone number a new customer is created from the name (the payload reaches
        # the customers table); the first valid request books `free`, the rest find it taken.
        return d.collect(free, name=STRANGER["name"], call_id=call_id, process=process,
                         to_number=to_number, args=args)
    base = {"call_id": call_id, "datum": owned.datum, "uhrzeit": owned.uhrzeit,
            "name": STRANGER["name"], **args}
    if endpoint == "reschedule-appointment":
        base.update(neues_datum=free.datum, neue_uhrzeit=free.uhrzeit)
    if endpoint == "cancel-appointment":
        return d.cancel(call_id=call_id, process=process, to_number=to_number, args=base)
    return d.reschedule(call_id=call_id, new_slot=free, process=process, to_number=to_number,
                        args=base)


@pytest.mark.parametrize("endpoint", list(VOICE_FIELDS))
@pytest.mark.needs("book", "check", "cancel", "reschedule", "service_state")
def test_voice_endpoint_answers_every_payload_clearly(world: World, endpoint: str) -> None:
    owned, free = world.slot(days_ahead=2, hour=10), world.slot(days_ahead=2, hour=15)
    owner_id = book_owner(world, owned)
    before = database_snapshot(world)

    n = 0
    for field in VOICE_FIELDS[endpoint]:
        for payload in SQL_PAYLOADS:
            n += 1
            answer = voice_request(world, endpoint, field, payload, n, owned=owned, free=free)
            assert_clear_voice_answer(answer, f"{endpoint} {field}={payload!r}")
            if endpoint in ("cancel-appointment", "reschedule-appointment"):
                # Nobody here owns the appointment: no payload may make it theirs.
                assert answer.status not in ("cancelled", "rescheduled"), answer.body

    assert_database_intact(world, before, [owner_id])


@pytest.mark.needs("book", "cancel", "tenant_reads", "calcom_journal", "service_state")
def test_payloads_are_stored_verbatim_not_executed(world: World) -> None:
    """Each payload is a caller's name (booked at its own slot) and, later, their reason for
    cancelling: the appointment shows the name exactly, the customer search finds exactly that
    customer, and Cal.com receives the reason exactly."""
    owner_id = book_owner(world, world.slot(days_ahead=2, hour=9))
    before = database_snapshot(world)
    key, company = world.berlin.api_key, world.berlin.id

    for i, payload in enumerate(SQL_PAYLOADS):
        slot = world.slot(days_ahead=3 + i // 7, hour=10 + i % 7)
        call_id = f"call_verbatim_{i:02d}"
        booked = world.driver.collect(slot, name=payload, call_id=call_id,
                                      telefon=f"+4917033300{i:02d}")
        assert booked.status == "booked", booked.body
        shown = world.driver.read("appointment", key, company,
                                  appointment_id=booked.body["appointment_id"])
        assert shown.http_status == 200, shown.body
        assert shown.body["customer"]["name"] == payload
        found = world.driver.read("customers", key, company, search=payload)
        assert found.http_status == 200, found.body
        assert [c["name"] for c in found.body["customers"]] == [payload], found.body
        cancelled = world.driver.cancel(call_id=call_id,
                                        appointment_id=booked.body["appointment_id"],
                                        grund=payload)
        assert cancelled.status == "cancelled", cancelled.body

    reasons = {b["metadata"].get("call_id"): b["cancellationReason"]
               for b in world.fake.state()["bookings"]}
    assert [reasons[world.driver.call_id(f"call_verbatim_{i:02d}")]
            for i in range(len(SQL_PAYLOADS))] == \
        list(SQL_PAYLOADS)
    assert_database_intact(world, before, [owner_id])


@pytest.mark.needs("book", "voice_api", "tenant_reads", "second_tenant", "service_state")
def test_read_api_refuses_or_answers_payloads_without_leaking(world: World) -> None:
    """Filters, ids, search terms and API keys: a 4xx for what is not a valid value, a scoped 2xx
    for a search term, 401 for a key that is none — never a 5xx, never another tenant's record
    (every read goes through the recording driver, so the tenant checker judges it too)."""
    owned = world.slot(days_ahead=2, hour=11)
    owner_id = book_owner(world, owned)
    hamburg = world.driver.collect(owned, name="Hanna Hafen", call_id="call_sql_hamburg",
                                   telefon="+4940111222", to_number=world.hamburg.phone)
    assert hamburg.status == "booked", hamburg.body
    before = database_snapshot(world)
    key, company = world.berlin.api_key, world.berlin.id
    client = world.driver.service

    for payload in SQL_PAYLOADS:
        for name in ("status", "date", "call_id", "limit", "offset"):
            answer = world.driver.read("appointments", key, company, **{name: payload})
            assert answer.http_status == 400, (name, payload, answer.body)
            assert_nothing_leaked(answer, f"appointments?{name}={payload!r}")
        by_id = world.driver.read("appointment", key, company, appointment_id=payload)
        assert by_id.http_status == 404, (payload, by_id.body)
        search = world.driver.read("customers", key, company, search=payload)
        assert search.http_status == 200, (payload, search.body)
        assert search.body["customers"] == [], (payload, search.body)
        stranger = world.driver.read("appointments", payload, None)
        assert stranger.http_status == 401, (payload, stranger.body)
        reconcile = world.run(client.request("POST", "/api/reconcile", json_body={
            "from": payload}, headers={"Authorization": f"Bearer {key}"}))
        assert reconcile.http_status == 400, (payload, reconcile.body)
        assert_nothing_leaked(reconcile, f"reconcile from={payload!r}")

    assert_database_intact(world, before, [owner_id, int(hamburg.body["appointment_id"])])


@pytest.mark.needs("book", "tenant_reads", "webhooks", "webhook_secret", "outside_changes",
                   "service_state")
def test_webhook_payloads_are_data(world: World) -> None:
    """Cal.com relays whatever a booker typed: outside bookings whose attendee name and metadata
    are payloads arrive through the fake's genuinely signed webhooks and are imported verbatim;
    signed cancellations of payload uids are answered without effect."""
    owner_id = book_owner(world, world.slot(days_ahead=2, hour=9))
    before = database_snapshot(world)

    for i, payload in enumerate(SQL_PAYLOADS):
        slot = world.slot(days_ahead=3 + i // 7, hour=10 + i % 7)
        world.driver.take_slot(2001, slot, name=payload, email=f"booker{i}@example.org",
                               metadata={"call_id": payload, "note": payload})
        body = webhook_body("BOOKING_CANCELLED", {"uid": payload[:64], "start": slot.start,
                                                  "end": slot.plus(30).start},
                            later(world))
        answer = world.driver.webhook(body, sign(body, world.webhook_secret), signature_valid=True)
        assert answer.http_status in (200, 400), answer.body
        assert_nothing_leaked(answer, f"webhook uid={payload!r}")
    world.settle()

    listed = world.driver.read("appointments", world.berlin.api_key, world.berlin.id)
    imported = sorted(a["customer"]["name"] for a in listed.body["appointments"]
                      if a["source"] == "webhook")
    assert imported == sorted(SQL_PAYLOADS)
    assert_database_intact(world, before, [owner_id])
