"""Helpers for the security scenarios: payloads, what a clear answer is, signed webhooks and the
database's state."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.clients.service import Answer
from harness.world import World

#: SQL injection payloads: those of seeds/001 §6.1, and the classic shapes (tautology, stacked
#: statement, UNION, comment, LIKE wildcard, double quotes, backslash escape).
SQL_PAYLOADS: tuple[str, ...] = (
    "'; DROP TABLE customers; --",
    "1' OR '1'='1",
    "admin'--",
    "1' UNION SELECT * FROM users--",
    "Robert'); DROP TABLE appointments;--",
    "x' UNION SELECT id, name, phone, email, company_id FROM customers --",
    "%' OR 1=1 OR name LIKE '%",
    '" OR ""="',
    "\\'; UPDATE appointments SET status='cancelled'; --",
    "1; DELETE FROM calls",
)

#: Every status the voice endpoints may answer (contract §2.3), and what the service adds for
#: an unreadable argument (`error` with a specific reason).
VOICE_STATUSES = frozenset({
    "available", "unavailable", "invalid_date", "invalid_time", "past_date",
    "missing_required_field", "unknown_service", "upstream_unavailable", "circuit_open",
    "booked", "confirmation_required", "slot_taken", "race_condition_detected",
    "stale_booking_data", "duplicate", "rate_limited", "timeout", "error", "cancelled",
    "not_found", "already_cancelled", "rescheduled",
})

#: Text that must never reach a client: tracebacks and database errors.
LEAK_MARKERS = ("Traceback", "sqlalchemy", "pymysql", "aiomysql", "sqlite3", "SQL syntax",
                "OperationalError", "ProgrammingError", "IntegrityError")


def raw_text(answer: Answer) -> str:
    return json.dumps(answer.body, ensure_ascii=False) if answer.body is not None else ""


def assert_clear_voice_answer(answer: Answer, where: str) -> None:
    """HTTP 200, a JSON object with a known status, a success flag and a German message; no
    internal error and nothing of the database in it."""
    assert answer.http_status == 200, f"{where}: HTTP {answer.http_status} {answer.body!r}"
    body = answer.body
    assert isinstance(body, dict), f"{where}: not a JSON object: {body!r}"
    assert body.get("status") in VOICE_STATUSES, f"{where}: unknown status {body!r}"
    assert isinstance(body.get("success"), bool), f"{where}: {body!r}"
    assert isinstance(body.get("message"), str), f"{where}: {body!r}"
    assert body["message"], f"{where}: {body!r}"
    assert body.get("reason") != "internal_error", f"{where}: unhandled error {body!r}"
    assert_nothing_leaked(answer, where)


def assert_nothing_leaked(answer: Answer, where: str) -> None:
    text = raw_text(answer)
    # A payload echoed back inside a field is fine; database and Python internals are not.
    for marker in LEAK_MARKERS:
        assert marker not in text, f"{where}: {marker!r} in the answer: {text[:300]}"
    assert answer.http_status is not None, f"{where}: no answer ({answer.error})"
    assert answer.http_status < 500, f"{where}: HTTP {answer.http_status} {text[:300]}"


# --- the database's state --------------------------------------------------------------------

#: Tables whose rows the scenarios below never change (the tenants): any change is an injection.
TENANT_TABLES = ("companies", "branches", "services")


def database_snapshot(world: World) -> dict[str, list[dict[str, Any]]]:
    """Every row of every service table (a scenario's database is small; read through the
    service's test control), once the webhooks Cal.com has queued so far have been delivered
    (they touch appointments too)."""
    world.settle()
    return world.service_tables()


def assert_database_intact(world: World, before: dict[str, list[dict[str, Any]]],
                           appointment_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every table still there and readable, the tenant tables unchanged, and the appointments
    that existed before unchanged (no status flipped, none deleted)."""
    after = database_snapshot(world)
    assert set(after) == set(before)
    for table in TENANT_TABLES:
        assert after[table] == before[table], f"{table} changed"
    was = {row["id"]: row for row in before["appointments"] if row["id"] in appointment_ids}
    now = {row["id"]: row for row in after["appointments"] if row["id"] in appointment_ids}
    for key, row in was.items():
        changed = {k: (v, now.get(key, {}).get(k)) for k, v in row.items()
                   if now.get(key, {}).get(k) != v}
        assert not changed, f"appointment {key} changed: {changed}"
    return after


# --- webhooks --------------------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """Cal.com's `X-Cal-Signature-256`: hex HMAC-SHA256 of the raw body (the service's secret:
    `world.webhook_secret`)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(trigger: str, booking: dict[str, Any], updated_at: datetime, *,
                 status: str | None = None, **extra: Any) -> bytes:
    """A Cal.com webhook delivery for `booking` (in the fake's ground-truth shape), as raw
    bytes, stamped `updated_at` (take it from the shared clock)."""
    when = updated_at.astimezone(UTC)
    attendees = booking.get("attendees") or []
    payload: dict[str, Any] = {
        "uid": booking["uid"],
        "bookingId": booking.get("id"),
        "eventTypeId": booking.get("eventTypeId"),
        "startTime": booking["start"],
        "endTime": booking["end"],
        "status": status or str(booking.get("status", "accepted")).upper(),
        "attendees": [{"name": a.get("name"), "email": a.get("email"),
                       "phoneNumber": a.get("phoneNumber")} for a in attendees],
        "organizer": {"id": (booking.get("hostIds") or [None])[0]},
        "metadata": booking.get("metadata") or {},
        "updatedAt": when.isoformat().replace("+00:00", "Z"),
        **extra,
    }
    document = {"triggerEvent": trigger, "createdAt": payload["updatedAt"], "payload": payload}
    return json.dumps(document, separators=(",", ":")).encode()


def later(world: World, seconds: float = 60) -> datetime:
    """A moment after everything so far on the shared clock (a newer upstream change)."""
    return world.clock.now() + timedelta(seconds=seconds)
