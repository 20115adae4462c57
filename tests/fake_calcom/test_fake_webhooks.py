"""Webhook deliveries: triggers, body, signature, owner scoping, failures and flush."""

from __future__ import annotations

import hashlib
import hmac

import aiohttp
import pytest

from fake_calcom import FakeServer
from fake_calcom.client import AsyncFakeControl
from fake_calcom.testing import BEN_KEY, TUESDAY_0900, TUESDAY_1000, CalcomApi, WebhookReceiver


@pytest.fixture
async def control(fake: FakeServer, http: aiohttp.ClientSession) -> AsyncFakeControl:
    return AsyncFakeControl(fake.url, session=http)


@pytest.fixture
async def receiver():
    async with WebhookReceiver() as receiver:
        yield receiver


async def test_each_booking_change_is_delivered_signed(api: CalcomApi, control: AsyncFakeControl, receiver: WebhookReceiver) -> None:
    await control.subscribe(receiver.url, secret="whsec_calharness")
    created = (await api.book(metadata={"call_id": "call_1"})).data
    pending = (await api.book(event_type_id=2003, start=TUESDAY_1000)).data
    moved = (await api.post(f"/v2/bookings/{created['uid']}/reschedule", {"start": "2025-10-07T09:00:00Z"})).data
    await api.post(f"/v2/bookings/{pending['uid']}/cancel", {"cancellationReason": "no"})
    flushed = await control.flush_webhooks()
    assert flushed["pending"] == 0
    assert len(flushed["deliveries"]) == 4
    assert receiver.triggers() == ["BOOKING_CREATED", "BOOKING_REQUESTED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED"]
    for delivery in receiver.received:
        expected = hmac.new(b"whsec_calharness", delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["X-Cal-Signature-256"] == expected
        assert delivery.headers["Content-Type"] == "application/json"
        assert set(delivery.json) == {"triggerEvent", "createdAt", "payload"}
    first = receiver.received[0].json
    assert first["createdAt"] == "2025-10-06T09:40:00.000Z"
    payload = first["payload"]
    assert payload["uid"] == created["uid"]
    assert payload["bookingId"] == created["id"]
    assert payload["startTime"] == "2025-10-07T07:00:00Z"
    assert payload["status"] == "ACCEPTED"
    assert payload["metadata"] == {"call_id": "call_1"}
    assert payload["eventTypeId"] == 2001
    assert payload["organizer"]["email"] == "anna@praxis-berlin.example"
    assert payload["attendees"][0]["name"] == "Hansi Sputer"
    assert receiver.received[1].json["payload"]["status"] == "PENDING"
    rescheduled = receiver.received[2].json["payload"]
    assert rescheduled["uid"] == moved["uid"]
    assert rescheduled["rescheduleUid"] == created["uid"]
    cancelled = receiver.received[3].json["payload"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cancellationReason"] == "no"
    truth = (await control.state())["webhook_deliveries"]
    assert [d["outcome"] for d in truth] == ["sent"] * 4
    assert truth[0]["body_sha256"] == hashlib.sha256(receiver.received[0].body).hexdigest()


async def test_no_secret_and_dedupe_sends_nothing(api: CalcomApi, control: AsyncFakeControl, receiver: WebhookReceiver) -> None:
    await control.subscribe(receiver.url)
    await api.book(event_type_id=2004)
    await api.book(event_type_id=2004, name="Same Email Again")  # the dedupe path: no webhook
    await control.flush_webhooks()
    assert receiver.triggers() == ["BOOKING_CREATED"]
    assert receiver.received[0].headers["X-Cal-Signature-256"] == "no-secret-provided"


async def test_user_webhooks_only_see_their_owners_bookings(api: CalcomApi, control: AsyncFakeControl, receiver: WebhookReceiver) -> None:
    body = {"subscriberUrl": receiver.url, "triggers": ["BOOKING_CREATED"], "active": True}
    assert (await api.post("/v2/webhooks", body, version=None, key=BEN_KEY)).status == 201
    await api.book(event_type_id=2001)  # Anna's
    await api.book(event_type_id=2002, start=TUESDAY_1000)  # Ben's
    await control.take_slot(2002, TUESDAY_0900, {"name": "Outside", "email": "o@example.com"}, webhooks=False)
    await control.flush_webhooks()
    assert [r.json["payload"]["eventTypeId"] for r in receiver.received] == [2002]


async def test_a_failing_subscriber_is_recorded_and_not_retried(api: CalcomApi, control: AsyncFakeControl, receiver: WebhookReceiver) -> None:
    receiver.status = 500
    await control.subscribe(receiver.url)
    await control.subscribe("http://127.0.0.1:9/nothing-listens-here")
    await api.book()
    await control.flush_webhooks()
    assert len(receiver.received) == 1
    outcomes = [(d["outcome"], d["http_status"]) for d in (await control.state())["webhook_deliveries"]]
    assert outcomes == [("failed", 500), ("failed", None)]
    assert (await control.stats())["webhooks"] == {"sent": 0, "failed": 2, "dropped": 0, "pending": 0}


async def test_held_deliveries_wait_for_a_flush(api: CalcomApi, control: AsyncFakeControl, receiver: WebhookReceiver) -> None:
    await control.subscribe(receiver.url, secret="whsec_calharness")
    assert (await control.hold_webhooks())["hold"] is True
    created = (await api.book()).data
    await api.post(f"/v2/bookings/{created['uid']}/cancel", {"cancellationReason": "no"})
    # Another round trip through the fake gives an unheld worker every chance to send.
    await control.state()
    truth = (await control.state())["webhook_deliveries"]
    assert [d["outcome"] for d in truth] == ["pending", "pending"]
    assert receiver.received == []
    flushed = await control.flush_webhooks()
    assert [d["outcome"] for d in flushed["deliveries"]] == ["sent", "sent"]
    assert receiver.triggers() == ["BOOKING_CREATED", "BOOKING_CANCELLED"]
    # Still holding after the flush; a reset lets deliveries go out as they come again.
    await api.book(start=TUESDAY_1000)
    await control.state()
    assert [d["outcome"] for d in (await control.state())["webhook_deliveries"]][-1] == "pending"
    await control.reset()
    await control.subscribe(receiver.url, secret="whsec_calharness")
    await control.take_slot(2002, TUESDAY_0900, {"name": "Outside", "email": "o@example.com"})
    await control.flush_webhooks()
    assert len(receiver.received) == 3


async def test_webhook_mode_rejects_a_non_boolean(control: AsyncFakeControl) -> None:
    with pytest.raises(Exception, match="hold must be true or false"):
        await control._call("PUT", "/_fake/webhooks/mode", {"hold": "yes"})
