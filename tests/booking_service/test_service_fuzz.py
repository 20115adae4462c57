"""Fuzzing the service's outside surface: the voice endpoints, the webhook receiver (with valid
signatures, so the payload reaches the code behind the signature check) and the tenant read API.

Whatever arrives: no 5xx, no traceback or database text in an answer, and no effect across
tenants — Praxis Hamburg's appointment stays as it was however the (Berlin-scoped) deliveries
name it, and each key reads its own company's records only.

Profiles (`CALHARNESS_FUZZ_PROFILE`): `ci` (default) is derandomized, 120 examples per endpoint
(about 400 requests with the tenant checks); `long` is random, 3,000 per endpoint. The request
count is printed at the end of the module (`pytest -s`).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_stack import (
    BERLIN_KEY,
    HAMBURG_KEY,
    S_DATUM,
    S_UHRZEIT,
    WEBHOOK_SECRET,
    Stack,
    open_stack,
)

from fake_calcom.loop_thread import LoopThread

T = TypeVar("T")
HAMBURG_PHONE = "+4940987654"
LEAKS = ("Traceback", "sqlalchemy", "pymysql", "aiomysql", "sqlite3", "OperationalError",
         "IntegrityError", "RecursionError")
PROFILES: dict[str, tuple[int, bool]] = {  # examples per endpoint, derandomized
    "ci": (120, True),
    "long": (3000, False),
}
EXAMPLES, DERANDOMIZE = PROFILES[os.environ.get("CALHARNESS_FUZZ_PROFILE", "ci")]
REQUESTS: collections.Counter[str] = collections.Counter()
FINDINGS: list[str] = []

fuzz = settings(
    max_examples=EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)


class Running:
    """The stack on its own event-loop thread (the property tests stay synchronous)."""

    def __init__(self, database_url: str) -> None:
        self._manager = open_stack(database_url, webhooks=False)
        self.loop = LoopThread(name="fuzz-stack")
        self.stack: Stack = self.run(self._manager.__aenter__())
        self.hamburg: dict[str, Any] = {}

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run(coroutine, timeout=60)

    def close(self) -> None:
        self.run(self._manager.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "booking.db"
    running = Running(f"sqlite:///{path}")
    stack = running.stack
    booked = running.run(stack.retell(
        "collect-appointment", to_number=HAMBURG_PHONE, datum=S_DATUM, uhrzeit=S_UHRZEIT,
        name="Hanna Hafen", dienstleistung="Beratung", call_id="call_hamburg_fuzz"))
    assert booked["status"] == "booked", booked
    running.hamburg = hamburg_appointment(running)
    try:
        yield running
    finally:
        running.close()
        print(f"\nfuzz ({os.environ.get('CALHARNESS_FUZZ_PROFILE', 'ci')}): "
              f"{sum(REQUESTS.values())} requests {dict(REQUESTS)}; findings: {FINDINGS or 0}")


def hamburg_appointment(running: Running) -> dict[str, Any]:
    status, body = running.run(running.stack.get("/api/appointments", HAMBURG_KEY))
    REQUESTS["read"] += 1
    assert status == 200, body
    [appointment] = body["appointments"]
    return {k: appointment[k] for k in ("id", "status", "start", "booking_uid", "call_id",
                                          "customer")}


def no_leak(where: str, status: int, text: str) -> None:
    if status >= 500 or any(marker in text for marker in LEAKS):
        FINDINGS.append(f"{where}: HTTP {status} {text[:120]}")
    assert status < 500, f"{where}: HTTP {status} {text[:500]}"
    for marker in LEAKS:
        assert marker not in text, f"{where}: {marker!r} in {text[:500]}"


# --- strategies -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
nasty_raw = st.sampled_from([
    b"[" * 3000 + b"]" * 3000,
    b'{"a":' * 1500 + b"1" + b"}" * 1500,
    b'{"args": {"name": NaN}}',
    b'{"args": {"name": Infinity, "datum": -Infinity}}',
    b'{"args": {"name": "\\ud800"}}',
    b'{"args": {"name": "\\udfff\\ud800x"}}',
    b'{"args": {"call_id": 1e999}}',
    b'{"args": {"datum": "01.01.0001", "uhrzeit": "00:00"}}',
    b'{"args": {"datum": "31.12.9999", "uhrzeit": "23:59"}}',
    b'{"args": {"appointment_id": 99999999999999999999999999}}',
    b"\xef\xbb\xbf{}",
    b"\x00\x01\x02",
])
texts = st.one_of(st.text(max_size=30), st.sampled_from([
    "07.01.2026", "14:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "2026-01-07T13:00:00Z", "\ud800", "x" * 300, "'; DROP TABLE appointments; --", "NaN",
]))
instants = st.one_of(texts, st.none(), st.integers(), st.sampled_from([
    "2026-01-07T13:00:00Z", "2026-01-09T10:00:00.000Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:30:00-01:00", "2026-02-30T10:00:00Z",
]))


@st.composite
def webhook_documents(draw: st.DrawFn, hamburg_uid: str, hamburg_call: str) -> bytes:
    """A delivery about Berlin's event types (or none): it may name Hamburg's booking and call
    anywhere, never carry Hamburg's event type."""
    uid = draw(st.one_of(st.sampled_from([hamburg_uid, "outside-1", "outside-2"]), texts))
    payload = draw(st.fixed_dictionaries({}, optional={
        "uid": st.just(uid),
        "startTime": instants,
        "endTime": instants,
        "eventTypeId": st.one_of(st.sampled_from([2001, 2002, 2003, 2004, 2005, 4242]),
                                 json_values.filter(lambda v: v != 2006)),
        "status": st.one_of(st.sampled_from(["ACCEPTED", "PENDING", "CANCELLED", "REJECTED"]),
                            json_values),
        "attendees": st.one_of(json_values, st.lists(st.fixed_dictionaries({}, optional={
            "name": texts, "email": texts, "phoneNumber": texts}), max_size=2)),
        "organizer": st.one_of(json_values, st.fixed_dictionaries(
            {"id": st.one_of(st.integers(), json_values)})),
        "metadata": st.one_of(json_values, st.fixed_dictionaries({}, optional={
            "call_id": st.one_of(st.just(hamburg_call), texts, json_values)})),
        "rescheduleUid": st.one_of(st.just(hamburg_uid), texts, json_values),
        "updatedAt": instants,
    }))
    document: Any = draw(st.one_of(
        st.fixed_dictionaries({"triggerEvent": st.one_of(st.sampled_from([
            "BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_CANCELLED", "BOOKING_REJECTED",
            "BOOKING_RESCHEDULED", "MEETING_ENDED"]), json_values)},
            optional={"payload": st.one_of(st.just(payload), json_values),
                      "createdAt": instants}),
        json_values,
    ))
    raw = json.dumps(document, allow_nan=True).encode("utf-8", errors="surrogatepass")
    return draw(st.one_of(st.just(raw), nasty_raw)) if draw(st.integers(0, 9)) == 0 else raw


# --- the properties -------------------------------------------------------------------------

VOICE = ("check-availability", "collect-appointment", "cancel-appointment",
         "reschedule-appointment")
voice_bodies = st.one_of(
    nasty_raw,
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"args": st.dictionaries(st.sampled_from([
        "datum", "uhrzeit", "name", "telefon", "email", "dienstleistung", "call_id",
        "bestaetigung", "appointment_id", "neues_datum", "neue_uhrzeit"]), texts | json_values,
        max_size=6)}, optional={"call": st.fixed_dictionaries({}, optional={
            "to_number": texts, "call_id": texts})}).map(
        lambda v: json.dumps(v).encode("utf-8", errors="surrogatepass")),
)


@fuzz
@given(function=st.sampled_from(VOICE), raw=voice_bodies)
def test_voice_endpoints_answer_every_body_cleanly(running: Running, function: str,
                                                  raw: bytes) -> None:
    status, answer = running.run(running.stack.post(f"/api/retell/{function}", raw=raw))
    REQUESTS["voice"] += 1
    text = json.dumps(answer, ensure_ascii=False) if not isinstance(answer, str) else answer
    no_leak(function, status, text)
    assert status == 200
    assert isinstance(answer, dict)
    assert answer.get("reason") != "internal_error", answer


@fuzz
@given(data=st.data())
def test_signed_deliveries_never_fail_and_never_cross_tenants(running: Running,
                                                             data: st.DataObject) -> None:
    raw = data.draw(webhook_documents(running.hamburg["booking_uid"],
                                      running.hamburg["call_id"] or "call_hamburg_fuzz"))
    signature = hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    status, answer = running.run(running.stack.post(
        "/api/webhooks/calcom", raw=raw, headers={"X-Cal-Signature-256": signature}))
    REQUESTS["webhook"] += 1
    no_leak("webhook", status, json.dumps(answer) if not isinstance(answer, str) else answer)
    assert status in (200, 400), answer
    assert hamburg_appointment(running) == running.hamburg, "a delivery touched Hamburg"


KEYS = {BERLIN_KEY: "berlin", HAMBURG_KEY: "hamburg"}


@fuzz
@given(path=st.sampled_from(["/api/appointments", "/api/appointments/1",
                             "/api/appointments/2", "/api/customers"]) | texts.map(
                                 lambda t: "/api/appointments/" + t.replace("/", "")),
       params=st.dictionaries(st.sampled_from(["status", "date", "call_id", "limit", "offset",
                                               "search", "x"]), texts, max_size=3),
       key=st.sampled_from([BERLIN_KEY, HAMBURG_KEY, "wrong-key", ""]))
def test_reads_never_fail_and_stay_in_their_tenant(running: Running, path: str,
                                                  params: dict[str, str], key: str) -> None:
    clean = {k: v.encode("utf-8", errors="replace").decode() for k, v in params.items()}
    try:
        status, body = running.run(running.stack.get(path, key or None, params=clean))
    except ValueError:  # a path the client library will not send (not the service's answer)
        return
    REQUESTS["read"] += 1
    no_leak("read", status, json.dumps(body) if not isinstance(body, str) else body)
    if status != 200:
        return
    assert key in KEYS, f"{path} answered 200 to {key!r}"
    company = 1 if key == BERLIN_KEY else 2
    records = body["appointments"] if "appointments" in body else body.get("customers", [body])
    assert all(r.get("company_id") == company for r in records), body
