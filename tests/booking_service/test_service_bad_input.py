"""Hostile input gets a clean refusal (4xx, or the voice agent's `invalid_json`), never a 500.

Each case is a finding of issue 14's bad-input pass: before the fixes each of these answered 500
(or `internal_error` with a traceback), or imported what it should have refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from urllib.parse import urlsplit

import pytest
from service_stack import BERLIN_KEY, S_ISO, WEBHOOK_SECRET, StackFactory

DEEP = b"[" * 2000 + b"]" * 2000  # 4 KB: past Python's recursion limit while parsing
RETELL = (
    "check-availability",
    "collect-appointment",
    "cancel-appointment",
    "reschedule-appointment",
)


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Cal-Signature-256": digest}


def created(**payload: object) -> bytes:
    """A BOOKING_CREATED delivery for Berlin's Beratung with `payload`'s fields changed."""
    base: dict[str, object] = {
        "uid": "outside-1",
        "startTime": S_ISO,
        "endTime": "2026-01-07T13:30:00Z",
        "eventTypeId": 2001,
        "status": "ACCEPTED",
        "attendees": [{"name": "Hans Schuster", "email": "hans@example.com"}],
        "metadata": {},
    }
    base.update(payload)
    return json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": base}).encode()


async def raw_request(base_url: str, request: bytes) -> tuple[int, bytes]:
    """One request written byte for byte (what an HTTP client library would refuse to send)."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    status_line = answer.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), answer


@pytest.mark.parametrize("function", RETELL)
async def test_deep_json_to_the_voice_endpoints_is_invalid_json(
    make_stack: StackFactory, function: str
) -> None:
    async with make_stack(webhooks=False) as stack:
        status, answer = await stack.post(f"/api/retell/{function}", raw=DEEP)
        assert status == 200
        assert answer["reason"] == "invalid_json", answer
        assert "Traceback" not in json.dumps(answer)


async def test_deep_json_to_reconcile_is_a_400(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack, stack.http.post(
        stack.url + "/api/reconcile",
        data=DEEP,
        headers={"Authorization": f"Bearer {BERLIN_KEY}"},
    ) as response:
        assert response.status == 400, await response.text()


async def test_a_signed_deep_json_delivery_is_a_400(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        status, answer = await stack.post("/api/webhooks/calcom", raw=DEEP, headers=signed(DEEP))
        assert (status, answer["outcome"]) == (400, "unreadable_json")


@pytest.mark.parametrize(
    "body",
    [
        created(metadata={"call_id": float("nan")}),  # json.dumps writes NaN
        created(attendees=[{"name": "\ud800", "email": "x@example.com"}]),
        created(startTime="0001-01-01T00:00:00Z"),
        created(startTime="9999-12-31T23:00:00Z"),
        created(startTime="9999-12-31T23:30:00-01:00"),  # past datetime.max in UTC
        created(organizer={"id": 10**30}, metadata={"n": 10**30}),
    ],
    ids=["nan", "lone-surrogate", "year-1", "year-9999", "overflow", "huge-ids"],
)
async def test_signed_deliveries_the_database_cannot_hold_are_refused(
    make_stack: StackFactory, body: bytes
) -> None:
    async with make_stack(webhooks=False) as stack:
        status, answer = await stack.post("/api/webhooks/calcom", raw=body, headers=signed(body))
        assert 400 <= status < 500 or answer["outcome"] == "imported", (status, answer)
        got = await stack.get("/api/appointments", BERLIN_KEY)
        assert got[0] == 200
        for appointment in got[1]["appointments"]:  # only a huge id may import (without it)
            assert appointment["start"] == S_ISO
            assert appointment["host_id"] is None


async def test_year_1_and_9999_are_not_imported(make_stack: StackFactory) -> None:
    async with make_stack(webhooks=False) as stack:
        for start in ("0001-01-01T00:00:00Z", "9999-06-01T10:00:00Z"):
            body = created(uid=f"far-{start[:4]}", startTime=start)
            status, answer = await stack.post(
                "/api/webhooks/calcom", raw=body, headers=signed(body)
            )
            assert (status, answer["outcome"]) == (400, "unreadable_payload")
        assert (await stack.get("/api/appointments", BERLIN_KEY))[1]["appointments"] == []


@pytest.mark.parametrize("header", ["ä" * 64, "sha256=\u00fc", "\u00ff"])
async def test_a_non_ascii_signature_is_a_401(make_stack: StackFactory, header: str) -> None:
    async with make_stack(webhooks=False) as stack:
        body = created()
        request = (
            b"POST /api/webhooks/calcom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n"
            + b"X-Cal-Signature-256: " + header.encode("utf-8") + b"\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status, answer = await raw_request(stack.url, request)
        assert status == 401, answer
        assert b"invalid_signature" in answer


async def test_an_over_long_url_is_logged_without_its_query(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "geheim%2B4915112345678"
    async with make_stack(webhooks=False) as stack:
        path = "/api/customers?search=" + secret + "x" * 10_000
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        with caplog.at_level(logging.DEBUG, logger="aiohttp"):
            status, _ = await raw_request(stack.url, request)
        assert status in (400, 414)
        logged = "\n".join(
            record.getMessage() + (record.exc_text or "")
            + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
            for record in caplog.records
        )
        assert "Error handling request" in logged  # the line is still there, one per request
        assert "geheim" not in logged
        assert "search=" not in logged
