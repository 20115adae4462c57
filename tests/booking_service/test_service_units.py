"""Unit tests of the pure parts: defense switches, the returned-booking checks, alternatives,
tenants validation, PII redaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from booking_service import DEFENSE_NAMES, Defenses, Settings
from booking_service.calcom.models import Attendee, UpstreamBooking
from booking_service.defenses import check_returned_booking
from booking_service.flows.slots import pick_alternatives
from booking_service.metrics import Metrics
from booking_service.pii import RedactingFilter, mask_email, mask_phone, redact
from booking_service.tenants import (
    TenantConfigError,
    demo_tenants,
    normalize_phone,
    validate_tenants,
)

NOW = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
START = datetime(2026, 1, 7, 13, 0, tzinfo=UTC)


# --- Defenses ----------------------------------------------------------------------------------


def test_all_defenses_on_by_default() -> None:
    assert Defenses().off == []
    assert all(Defenses().as_dict().values())
    assert list(Defenses().as_dict()) == list(DEFENSE_NAMES)
    assert len(DEFENSE_NAMES) == 12


def test_defenses_off_by_name_and_from_a_comma_list() -> None:
    assert Defenses.with_off("freshness, slot_lock").off == ["freshness", "slot_lock"]
    assert Defenses.with_off(["webhook_dedupe"]).off == ["webhook_dedupe"]
    assert Defenses.with_off("").off == []
    assert Defenses().without("tenant_isolation").is_on("tenant_isolation") is False
    assert Defenses.all_off().off == list(DEFENSE_NAMES)


def test_unknown_defense_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown defense name\(s\): freshnes; known: freshness"):
        Defenses.with_off("freshnes")
    with pytest.raises(ValueError):
        Defenses().without("nope")


def test_settings_accept_defenses_as_a_string_and_validate_numbers() -> None:
    assert Settings(defenses="slot_lock").defenses.off == ["slot_lock"]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="freshness_seconds"):
        Settings(freshness_seconds=-1)
    with pytest.raises(ValueError, match="calcom_timeout_s"):
        Settings(calcom_timeout_s=0)


# --- the checks on what Cal.com returned ------------------------------------------------------


@dataclass
class FakeClock:
    def now(self) -> datetime:
        return NOW

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - not used here
        pass


@dataclass
class Ctx:
    defenses: Defenses = field(default_factory=Defenses)
    metrics: Metrics = field(default_factory=Metrics)
    settings: Settings = field(default_factory=lambda: Settings(clock=FakeClock()))

    def now(self) -> datetime:
        return NOW


def booking(
    *,
    age_s: float | None = 1,
    call_id: str | None = None,
    name: str = "Hans Schuster",
    start: datetime = START,
    idempotency_key: str | None = None,
) -> UpstreamBooking:
    metadata: dict[str, Any] = {}
    if call_id is not None:
        metadata["call_id"] = call_id
    if idempotency_key is not None:
        metadata["idempotency_key"] = idempotency_key
    return UpstreamBooking(
        uid="u",
        id=1,
        status="accepted",
        start=start,
        end=start + timedelta(minutes=30),
        created_at=None if age_s is None else NOW - timedelta(seconds=age_s),
        updated_at=None,
        event_type_id=2001,
        host_ids=[101],
        attendees=[Attendee(name, "termin@praxis-berlin.example", None)],
        metadata=metadata,
    )


def check(
    ctx: Ctx, b: UpstreamBooking, *, key: str | None = "mine", name: str = "Hans Schuster"
) -> tuple[str, str] | None:
    return check_returned_booking(
        ctx,  # type: ignore[arg-type]
        b,
        call_id="call_688",
        expected_start=START,
        caller_name=name,
        idempotency_key=key,
    )


@pytest.mark.parametrize(
    ("age", "refused"), [(0, False), (29.9, False), (30, False), (30.001, True), (35 * 60, True)]
)
def test_freshness_boundary_is_inclusive(age: float, refused: bool) -> None:
    assert (check(Ctx(), booking(age_s=age)) == ("freshness", "booking_too_old")) is refused
    assert check(Ctx(defenses=Defenses().without("freshness")), booking(age_s=age)) is None


def test_freshness_accepts_and_counts_a_missing_created_at() -> None:
    ctx = Ctx()
    assert check(ctx, booking(age_s=None)) is None
    assert (
        ctx.metrics.registry.get_sample_value(
            "booking_service_calcom_booking_missing_created_at_total"
        )
        == 1
    )


def test_freshness_trusts_a_booking_carrying_our_idempotency_key() -> None:
    assert check(Ctx(), booking(age_s=120, idempotency_key="mine")) is None
    assert check(Ctx(), booking(age_s=120, idempotency_key="theirs")) == (
        "freshness",
        "booking_too_old",
    )


@pytest.mark.parametrize(
    ("returned", "refused"), [(None, False), ("", False), ("call_688", False), ("call_687", True)]
)
def test_call_id_match_lets_a_missing_call_id_pass(returned: str | None, refused: bool) -> None:
    assert (
        check(Ctx(), booking(call_id=returned)) == ("call_id_match", "call_id_mismatch")
    ) is refused
    assert (
        check(Ctx(defenses=Defenses().without("call_id_match")), booking(call_id=returned)) is None
    )


@pytest.mark.parametrize(
    ("name", "start", "refused"),
    [
        ("Hans Schuster", START, False),
        ("  hans   SCHUSTER ", START, False),
        ("Hansi Sputer", START, True),
        ("Hans Schuster", START + timedelta(minutes=30), True),
    ],
)
def test_attendee_match(name: str, start: datetime, refused: bool) -> None:
    assert (
        check(Ctx(), booking(name=name, start=start)) == ("attendee_match", "attendee_mismatch")
    ) is refused
    assert (
        check(Ctx(defenses=Defenses().without("attendee_match")), booking(name=name, start=start))
        is None
    )


def test_the_incident_booking_is_refused_by_the_first_layer() -> None:
    incident = booking(age_s=2100, call_id="call_927bf219b2cc20cd24dc97c9f0b", name="Hansi Sputer")
    assert check(Ctx(), incident, key=None) == ("freshness", "booking_too_old")
    assert check(Ctx(defenses=Defenses().without("freshness")), incident, key=None) == (
        "call_id_match",
        "call_id_mismatch",
    )


def test_booking_age_is_observed() -> None:
    ctx = Ctx()
    check(ctx, booking(age_s=35 * 60))
    assert (
        ctx.metrics.registry.get_sample_value("booking_service_calcom_booking_age_seconds_count")
        == 1
    )
    assert (
        ctx.metrics.registry.get_sample_value(
            "booking_service_calcom_booking_age_seconds_bucket", {"le": "1800.0"}
        )
        == 0
    )


# --- alternatives ------------------------------------------------------------------------------


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time in January 2026 (UTC+1) as UTC."""
    return datetime(2026, 1, day, hour - 1, minute, tzinfo=UTC)


def test_alternatives_nearest_same_day_then_the_next_days() -> None:
    free = [at(7, 9), at(7, 13, 30), at(7, 15), at(7, 16), at(8, 9), at(8, 10), at(9, 11)]
    assert pick_alternatives(free, at(7, 14), NOW, "Europe/Berlin", 3) == [
        at(7, 13, 30),
        at(7, 15),
        at(8, 9),
    ]
    assert pick_alternatives(free, at(7, 14), NOW, "Europe/Berlin", 5) == [
        at(7, 13, 30),
        at(7, 15),
        at(8, 9),
        at(9, 11),
    ]


def test_alternatives_skip_the_past_and_the_wanted_slot() -> None:
    free = [at(5, 7), at(5, 9), at(5, 10)]
    assert pick_alternatives(free, at(5, 9), at(5, 8, 30), "Europe/Berlin", 3) == [at(5, 10)]


# --- tenants -----------------------------------------------------------------------------------


def test_demo_tenants_are_valid() -> None:
    companies = validate_tenants(demo_tenants())
    assert [c["name"] for c in companies] == ["Praxis Berlin", "Praxis Hamburg"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(companies=[]), "non-empty list"),
        (lambda d: d["companies"][0].update(api_key="short"), "api_key"),
        (lambda d: d["companies"][1].update(api_key="bs_demo_berlin"), "api_key used twice"),
        (lambda d: d["companies"][0]["branches"][0].update(id=17), "UUID"),
        (lambda d: d["companies"][0]["branches"][0].update(phone="call me"), "phone"),
        (
            lambda d: d["companies"][0]["branches"][0]["services"][0].update(event_type_id="2001"),
            "event_type_id",
        ),
        (lambda d: d["companies"][0]["branches"][0]["services"][0].update(duration=0), "duration"),
        (
            lambda d: d["companies"][0]["branches"][0]["services"][1].update(name="beratung"),
            "used twice",
        ),
    ],
)
def test_bad_tenants_are_refused_with_where(mutate: Any, message: str) -> None:
    doc = demo_tenants()
    mutate(doc)
    with pytest.raises(TenantConfigError, match=message):
        validate_tenants(doc)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+4930123456", "+4930123456"),
        ("030 / 123456", "+4930123456"),
        ("0049 30 123456", "+4930123456"),
        ("0170-1234567", "+491701234567"),
        ("12", None),
        ("hallo", None),
        (None, None),
    ],
)
def test_phone_normalisation(raw: str | None, normal: str | None) -> None:
    assert normalize_phone(raw) == normal


# --- PII ---------------------------------------------------------------------------------------


def test_masking() -> None:
    assert mask_email("termin@praxis-berlin.example") == "t***@praxis-berlin.example"
    assert mask_phone("+49 170 1234567") == "***67"


@pytest.mark.parametrize(
    "text",
    [
        "caller hans.schuster@example.com booked",
        "phone +49 170 1234567 booked",
        "phone 0170/1234567 booked",
        "phone 004917012345678 booked",
        '"GET /api/customers?search=%2B491701234567 HTTP/1.1" 200',
        '"GET /api/customers?search=%2B49+170+1234567 HTTP/1.1" 200',
        '"GET /api/customers?search=0170%201234567 HTTP/1.1" 200',
        '"GET /api/customers?search=hans.schuster%40example.com HTTP/1.1" 200',
    ],
)
def test_redact_removes_contact_details(text: str) -> None:
    redacted = redact(text)
    assert "hans.schuster@" not in redacted
    assert "hans.schuster%40" not in redacted
    assert "1234567" not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "slot 2026-01-07T13:00:00Z",
        "booking 11489895 uid 8Fxv4pCqnb1Jva1w9wn5wX",
        "2025-01-05 09:30",
        "branch 6f1c2b0e-3d4a-4c59-9e8f-0a1b2c3d4e5f",
    ],
)
def test_redact_keeps_dates_ids_and_uids(text: str) -> None:
    assert redact(text) == text


def test_redacting_filter_rewrites_records_and_arguments() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "caller %s at %s",
        ("hans@example.com", "+491701234567"),
        None,
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "caller h***@example.com at ***67"
