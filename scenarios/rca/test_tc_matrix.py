"""The test case matrix TC-001 … TC-012 of seeds/000 ("Specific Test Cases for 4 Validation
Layers"), adapted to this service and to Cal.com's real behaviour.

The seed imagines a Laravel service with its own idempotency-key table. Here the *call* is the
idempotency scope of the voice agent (a retry of a call gets that call's appointment back), and
Cal.com's own key is its dedupe path: for round-robin and requires-confirmation event types a
create with the same e-mail (or phone) and start returns the existing booking. The layers the
seed names map to: Layer 1 → the same-call shortcut; Layer 2 → the local double-check; Layer 3 →
Cal.com's availability and answers; Layer 4 → the checks on the returned booking.

Also tagged with these ids elsewhere: TC-001 (Cal.com's dedupe path) in
test_stale_booking_freshness.py, TC-007 there too, TC-008 in test_returned_booking_checks.py.
"""

from __future__ import annotations

import pytest

from harness.faults import fault, reset, slot_steal, status
from harness.history import classify_answer
from harness.world import World
from scenarios.rca._support import (
    HANS,
    HANSI,
    appointments,
    calcom_requests,
    company_id,
    creates,
    dedupe_email,
    journal_seq,
)

pytestmark = [pytest.mark.area("rca")]

ANNA_PHONE = "+4915111111111"
BERND_PHONE = "+4915122222222"


@pytest.mark.rca("tc-001")
@pytest.mark.needs("book", "appointments")
def test_tc001_the_same_call_asking_again_gets_its_booking_back(world: World) -> None:
    """Same idempotency key (the call), same customer: the existing booking, not a new one."""
    slot = world.slot(days_ahead=2, hour=10)
    first = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_tc001")
    again = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_tc001")

    assert first.status == again.status == "booked", (first.body, again.body)
    assert again.body["appointment_id"] == first.body["appointment_id"]
    assert again.body["booking_uid"] == first.body["booking_uid"]
    assert again.body["reason"] == "already_booked"
    assert len(appointments(world)) == 1


@pytest.mark.rca("tc-002", "duplicate-stale-booking")
@pytest.mark.needs("book", "cancel", "appointments", "ground_truth")
def test_tc002_a_shared_key_never_hands_one_customers_booking_to_another(world: World) -> None:
    """Same key, different customer. Cal.com's dedupe key for round robin is the attendee e-mail,
    and every caller without an e-mail is booked with the company's fallback address — the key is
    global, shared by different customers (the incident's trigger; where the service has no
    fallback, two callers giving one family address: `dedupe_email`). Cal.com would return the
    first customer's booking; the service must not pass it on. Five seconds apart on the shared
    clock (where the target has none, as fast as the calls go): fresh either way, so the age
    does not give it away."""
    world.freeze_if_possible()
    slot = world.slot(days_ahead=2, hour=10)
    _shared, given = dedupe_email(world)
    first = world.driver.collect(slot, name=HANSI, call_id="call_687", service="Teamtermin",
                                 email=given)
    assert first.status == "booked", first.body
    if world.has("clock"):
        world.clock.advance(5)

    second = world.driver.collect(slot, name=HANS, call_id="call_688", service="Teamtermin",
                                  email=given)

    if world.has("voice_api"):
        # The slot is free locally (a second host): Cal.com's dedupe answer is what gets refused.
        assert second.status == "stale_booking_data", second.body
    assert classify_answer("collect", second.body) == "fail", second.body  # refused
    assert second.body["alternatives"], second.body
    assert second.body.get("booking_uid") in (None, ""), second.body
    [appointment] = appointments(world)
    assert appointment["booking_uid"] == first.body["booking_uid"]
    if world.has("voice_api"):  # its appointments name their call
        assert appointment["call_id"] == world.driver.call_id("call_687")


@pytest.mark.rca("tc-003")
@pytest.mark.defense("availability_double_check")
@pytest.mark.needs("book", "tenant_reads", "calcom_journal")
def test_tc003_the_same_customer_calling_again_for_the_same_slot_is_not_booked_twice(
        world: World) -> None:
    """Different key (a new call), same customer (same phone), same slot: refused, and the
    refusal comes before Cal.com is asked to create anything (the local double-check; without it
    Cal.com is asked and refuses with "host busy")."""
    slot = world.slot(days_ahead=2, hour=10)
    first = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_first")
    assert first.status == "booked", first.body
    seq = journal_seq(world)

    again = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE,
                                 call_id="call_second")

    assert again.status == "slot_taken", again.body
    assert again.body["alternatives"], again.body
    assert creates(calcom_requests(world, seq)) == []
    assert len(appointments(world)) == 1


@pytest.mark.rca("tc-004")
@pytest.mark.needs("book")
def test_tc004_different_customers_for_one_slot_of_one_host_only_one_gets_it(
        world: World) -> None:
    """Different key, different customer, same slot of a single-host event type: the seed says
    "allowed", but one host cannot see two customers at once — only one gets it, the other is
    offered alternatives."""
    slot = world.slot(days_ahead=2, hour=10)
    first = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_anna")
    second = world.driver.collect(slot, name="Bernd Brot", telefon=BERND_PHONE,
                                  call_id="call_bernd")

    assert first.status == "booked", first.body
    assert second.status == "slot_taken", second.body
    assert second.body["alternatives"], second.body


@pytest.mark.rca("tc-004")
@pytest.mark.needs("book", "check", "ground_truth")
def test_tc004_different_customers_for_one_round_robin_slot_both_get_a_host(
        world: World) -> None:
    """Same, for round-robin Teamtermin (hosts Anna and Ben): the seed's "allowed" holds — Cal.com
    gives the second customer the other host, and the service should let it."""
    slot = world.slot(days_ahead=2, hour=10)
    first = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE,
                                 email="anna.alt@example.com", call_id="call_anna",
                                 service="Teamtermin")
    check = world.driver.check(slot, call_id="call_bernd", service="Teamtermin")
    second = world.driver.collect(slot, name="Bernd Brot", telefon=BERND_PHONE,
                                  email="bernd.brot@example.com", call_id="call_bernd",
                                  service="Teamtermin")

    assert first.status == "booked", first.body
    assert check.status == "available", check.body  # Cal.com: Ben is free at that time
    assert second.status == "booked", second.body
    hosts = sorted(b["hostIds"][0] for b in world.upstream(start=slot))
    assert hosts == [101, 102]


@pytest.mark.rca("tc-005")
@pytest.mark.needs("book", "appointments", "ground_truth", "calcom_journal", "faults")
def test_tc005_calcom_refusing_the_slot_books_nothing(world: World) -> None:
    """Cal.com says the slot is unavailable (an outside booker took it just before the create):
    slot_taken with alternatives; Cal.com holds only the outside booking."""
    slot = world.slot(days_ahead=2, hour=10)
    world.arm(fault("steal", slot_steal(), nth=1))

    answer = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_a")
    world.settle()

    assert answer.status == "slot_taken", answer.body
    if world.has("voice_api"):  # the reason's name is the voice API's
        assert answer.body["reason"] == "host_busy"
    assert answer.body["alternatives"], answer.body
    [held] = world.upstream(start=slot)
    assert held["origin"]["kind"] == "outside"
    if world.has("webhooks"):
        [imported] = appointments(world)  # the outside booking, by its webhook; none for call_a
        assert (imported["booking_uid"], imported["call_id"]) == (held["uid"], None)
    else:  # a service that takes no webhooks holds nothing: none for call_a
        assert appointments(world) == []


@pytest.mark.rca("tc-006")
@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults", "clock")
def test_tc006_a_rate_limited_create_is_retried_after_the_window_without_duplicates(
        world: World) -> None:
    """Cal.com answers the first create with 429 (window resets in 60 s, longer than a caller
    holds on the line): the caller hears `rate_limited` with nothing booked, asks again after
    the window (on the frozen shared clock, so no real waiting) and is booked exactly once."""
    world.freeze()
    slot = world.slot(days_ahead=2, hour=10)
    world.arm(fault("throttled", status(429), nth=1))
    seq = journal_seq(world)

    refused = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_a")
    assert refused.status == "rate_limited", refused.body
    assert world.upstream() == []

    world.clock.advance(60)
    answer = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_a")

    assert answer.status == "booked", answer.body
    assert creates(calcom_requests(world, seq)) == ["POST /v2/bookings 429",
                                                    "POST /v2/bookings 201"]
    assert [b["uid"] for b in world.upstream()] == [answer.body["booking_uid"]]


@pytest.mark.rca("tc-009")
@pytest.mark.needs("book")
def test_tc009_concurrent_callers_for_one_slot_exactly_one_succeeds(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    callers = [("Anna Alt", ANNA_PHONE), ("Bernd Brot", BERND_PHONE),
               ("Clara Christ", "+4915133333333")]
    answers = world.driver.concurrently([
        (lambda name=name, phone=phone, i=i: world.driver.acollect(
            slot, name=name, telefon=phone, call_id=f"call_tc009_{i}"))
        for i, (name, phone) in enumerate(callers)])

    statuses = sorted(a.status for a in answers)
    assert statuses.count("booked") == 1, [a.body for a in answers]
    for refused in (a for a in answers if a.status != "booked"):
        assert refused.status in ("slot_taken", "race_condition_detected"), refused.body
        assert refused.body["alternatives"], refused.body


@pytest.mark.rca("tc-010")
@pytest.mark.defense("ambiguous_create_lookup")
@pytest.mark.needs("book", "ground_truth", "calcom_journal", "faults")
def test_tc010_a_network_retry_after_a_lost_answer_creates_no_duplicate(world: World) -> None:
    """Cal.com books, then the connection is reset before the answer arrives. The service does not
    know whether it booked: it looks for a booking carrying its idempotency key before retrying,
    adopts it, and the caller is booked once. A blind retry would run into its own booking
    ("host busy") and tell the caller "taken" while Cal.com holds their booking — lost."""
    world.freeze_if_possible()  # only makes the retry's backoff instant
    slot = world.slot(days_ahead=2, hour=10)
    world.arm(fault("reset-after", reset("after"), nth=1))

    answer = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_a")

    world.judge()  # with the defense off: no-lost-booking (Cal.com holds it, caller told taken)
    assert answer.status == "booked", answer.body
    [booking] = world.upstream()
    assert (booking["uid"], world.made_for(booking)) == (answer.body["booking_uid"],
                                                         world.driver.call_id("call_a"))


@pytest.mark.rca("tc-011")
@pytest.mark.needs("book", "check", "appointments", "ground_truth")
def test_tc011_when_every_layer_passes_the_booking_is_created(world: World) -> None:
    slot = world.slot(days_ahead=2, hour=10)
    check = world.driver.check(slot, call_id="call_a")
    answer = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE,
                                  email="anna.alt@example.com", call_id="call_a")

    assert check.status == "available", check.body
    assert answer.status == "booked", answer.body
    assert answer.success
    # the call's appointment: asked for by call id where the read API can; else the only one
    [appointment] = (appointments(world, call_id="call_a") if world.has("tenant_reads")
                     else appointments(world))
    assert appointment["booking_uid"] == answer.body["booking_uid"]
    assert (appointment["start"], appointment["status"]) == (slot.start, "scheduled")
    assert appointment["customer"]["name"] == "Anna Alt"
    [booking] = world.upstream()
    assert booking["uid"] == answer.body["booking_uid"]
    assert world.made_for(booking) == world.driver.call_id("call_a")
    assert booking["attendees"][0]["email"] == "anna.alt@example.com"
    if world.has("voice_api"):  # what the reference writes into its appointment and metadata
        assert appointment["source"] == "voice"
        metadata = booking["metadata"]
        assert (metadata["call_id"], metadata["company_id"], metadata["source"]) == (
            world.driver.call_id("call_a"), str(company_id(world.berlin, [appointment])),
            "voice")
        assert metadata["idempotency_key"]


@pytest.mark.rca("tc-012")
@pytest.mark.needs("book", "calcom_journal")
def test_tc012_an_early_refusal_never_reaches_calcom(world: World) -> None:
    """Layer 1 answers (the call already holds the slot): nothing at all is sent to Cal.com. An
    unusable request (a past date, a missing name; without raw arguments an unknown service) is
    refused before Cal.com too."""
    slot = world.slot(days_ahead=2, hour=10)
    booked = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_a")
    assert booked.status == "booked", booked.body
    seq = journal_seq(world)

    again = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_a")
    if world.has("voice_api"):  # as the voice agent sends them: raw arguments
        past = world.driver.collect(slot, name="Anna Alt", telefon=ANNA_PHONE, call_id="call_b",
                                    args={"datum": "01.01.2020"})
        nameless = world.driver.collect(slot, name="", telefon=ANNA_PHONE, call_id="call_c",
                                        args={"name": None})
    else:  # an API without raw arguments: a service it does not offer, an empty name (each
        # call its own phone: a service that records no call is judged by the caller's contact;
        # no past slot: where nothing resets the target it would widen the days judged)
        past = world.driver.collect(slot, name="Anna Alt", call_id="call_b", service="Yoga")
        nameless = world.driver.collect(slot, name="", call_id="call_c")

    assert again.status == "booked", again.body
    assert again.body["reason"] == "already_booked"
    if world.has("voice_api"):
        assert past.status == "past_date", past.body
        assert nameless.status == "missing_required_field", nameless.body
    assert classify_answer("collect", past.body) == "fail", past.body  # refused
    assert classify_answer("collect", nameless.body) == "fail", nameless.body
    assert calcom_requests(world, seq) == []
