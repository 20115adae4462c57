"""The Cal.com client against a scripted stub: wire format, retries, 429 windows, timeouts, circuit.

Policy waits run on a manual clock (recorded, no wall time); only the socket timeouts are real
and kept tiny.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from service_support import CalcomStub, ManualClock, Reply, booking_data, success

from booking_service.calcom.backoff import Backoff
from booking_service.calcom.circuit import CircuitBreaker
from booking_service.calcom.client import CalcomClient, rate_limit_wait_budget
from booking_service.calcom.errors import (
    CalcomBadResponse,
    CalcomConnectionError,
    CalcomRequestError,
    CalcomServerError,
    CalcomTimeout,
    CircuitOpenError,
    RateLimitedError,
)
from booking_service.metrics import Metrics

KEY = "cal_live_calharness_anna"
CREATE = {
    "start": "2026-01-12T09:00:00Z",
    "eventTypeId": 2001,
    "attendee": {"name": "Hans Schuster"},
}


@pytest.fixture
async def stub() -> AsyncIterator[CalcomStub]:
    server = CalcomStub()
    server.url = await server.start()  # type: ignore[attr-defined]
    yield server
    await server.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


ClientFactory = Callable[..., CalcomClient]


@pytest.fixture
async def make_client(stub: CalcomStub, clock: ManualClock) -> AsyncIterator[ClientFactory]:
    clients: list[CalcomClient] = []

    def factory(
        *,
        retry_attempts: int = 3,
        timeout_s: float = 5.0,
        threshold: int = 5,
        open_s: float = 30.0,
        max_wait: float = 65.0,
    ) -> CalcomClient:
        metrics = Metrics()
        client = CalcomClient(
            base_url=stub.url,  # type: ignore[attr-defined]
            timeout_s=timeout_s,
            retry_attempts=retry_attempts,
            backoff=Backoff(0.2, 5.0, random.Random(7)),
            clock=clock,
            max_rate_limit_wait_s=max_wait,
            circuit=CircuitBreaker(
                failure_threshold=threshold,
                open_s=open_s,
                now=clock.now,
                on_change=metrics.set_circuit_state,
            ),
            metrics=metrics,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


def sample(client: CalcomClient, name: str, labels: dict[str, str] | None = None) -> float:
    value = client.metrics.registry.get_sample_value(name, labels or {})
    return value or 0.0


# --- wire format -------------------------------------------------------------------------------


async def test_create_speaks_the_2024_08_13_wire_format(
    stub: CalcomStub, make_client: ClientFactory
) -> None:
    stub.script("POST /v2/bookings", success(booking_data(uid="abc"), status=201))
    booking = await make_client().create_booking(KEY, CREATE)
    assert booking.uid == "abc"
    assert booking.start == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    assert booking.host_ids == [101]
    request = stub.seen[0]
    assert request.headers["cal-api-version"] == "2024-08-13"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.body == CREATE


async def test_slots_use_2024_09_04_and_flatten_days(
    stub: CalcomStub, make_client: ClientFactory
) -> None:
    stub.script(
        "GET /v2/slots",
        success(
            {
                "2026-01-12": [
                    {"start": "2026-01-12T09:00:00.000Z"},
                    {"start": "2026-01-12T10:30:00.000+01:00"},
                ],
                "2026-01-13": [{"start": "2026-01-13T08:00:00.000Z"}],
            }
        ),
    )
    start, end = datetime(2026, 1, 12, tzinfo=UTC), datetime(2026, 1, 14, tzinfo=UTC)
    free = await make_client().free_slots(KEY, 2001, start, end)
    assert free == [
        datetime(2026, 1, 12, 9, 0, tzinfo=UTC),
        datetime(2026, 1, 12, 9, 30, tzinfo=UTC),
        datetime(2026, 1, 13, 8, 0, tzinfo=UTC),
    ]
    request = stub.seen[0]
    assert request.headers["cal-api-version"] == "2024-09-04"
    assert request.query == {
        "eventTypeId": "2001",
        "start": "2026-01-12T00:00:00Z",
        "end": "2026-01-14T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("reply", "status", "message", "code"),
    [
        (
            Reply(
                400,
                {
                    "status": "error",
                    "timestamp": "x",
                    "path": "/v2/bookings",
                    "error": {
                        "code": "BadRequestException",
                        "message": "User either already has booking at this time or is not available",
                    },
                },
            ),
            400,
            "User either already has booking at this time or is not available",
            "BadRequestException",
        ),
        (
            Reply(409, {"statusCode": 409, "message": "booking_conflict_error"}),
            409,
            "booking_conflict_error",
            None,
        ),
        (
            Reply(400, {"statusCode": 400, "message": ["a must be x", "b must be y"]}),
            400,
            "a must be x, b must be y",
            None,
        ),
    ],
)
async def test_error_bodies_envelope_and_bare_nest(
    stub: CalcomStub,
    make_client: ClientFactory,
    reply: Reply,
    status: int,
    message: str,
    code: str | None,
) -> None:
    stub.script("POST /v2/bookings", reply)
    with pytest.raises(CalcomRequestError) as info:
        await make_client().create_booking(KEY, CREATE)
    assert (info.value.status, info.value.message, info.value.code) == (status, message, code)
    assert info.value.booking_conflict == (status == 409)
    assert info.value.slot_unavailable == ("already has booking" in message)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(
            201, '{"status":"success","data":{"id":', content_type="application/json"
        ),  # malformed
        Reply(201, b"", content_type="application/json"),  # empty
        Reply(201, {"status": "success"}),  # no data
        Reply(201, {"status": "success", "data": {"id": 5}}),  # no uid/start
    ],
)
async def test_unreadable_success_is_ambiguous(
    stub: CalcomStub, make_client: ClientFactory, reply: Reply
) -> None:
    stub.script("POST /v2/bookings", reply)
    with pytest.raises(CalcomBadResponse) as info:
        await make_client().create_booking(KEY, CREATE)
    assert info.value.ambiguous


async def test_get_booking_404_is_none(stub: CalcomStub, make_client: ClientFactory) -> None:
    stub.script(
        "GET /v2/bookings/nope",
        Reply(
            404,
            {
                "status": "error",
                "error": {
                    "code": "NotFoundException",
                    "message": "Booking with uid=nope was not found in the database",
                },
            },
        ),
    )
    assert await make_client().get_booking(KEY, "nope") is None


async def test_list_bookings_follows_pagination(
    stub: CalcomStub, make_client: ClientFactory
) -> None:
    stub.script(
        "GET /v2/bookings",
        success([booking_data(uid="a"), booking_data(uid="b")], pagination={"hasNextPage": True}),
        success([booking_data(uid="c")], pagination={"hasNextPage": False}),
    )
    bookings = await make_client().list_bookings(
        KEY, page_size=2, attendee_email="hans@example.com"
    )
    assert [b.uid for b in bookings] == ["a", "b", "c"]
    assert [s.query["skip"] for s in stub.seen] == ["0", "2"]
    assert stub.seen[0].query["attendeeEmail"] == "hans@example.com"


# --- retries and backoff -----------------------------------------------------------------------


async def test_reads_retry_5xx_with_seeded_backoff(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    stub.script(
        "GET /v2/bookings/u1",
        Reply(503, {"statusCode": 503, "message": "Service Unavailable"}),
        Reply(502, "<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
        success(booking_data(uid="u1")),
    )
    client = make_client()
    booking = await client.get_booking(KEY, "u1")
    assert booking is not None
    assert booking.uid == "u1"
    expected = Backoff(0.2, 5.0, random.Random(7))
    assert clock.sleeps == [expected.delay(0), expected.delay(1)]
    assert (
        sample(
            client,
            "booking_service_calcom_retries_total",
            {"endpoint": "GET /v2/bookings/{uid}", "reason": "server_error"},
        )
        == 2
    )


async def test_reads_give_up_after_the_retry_budget(
    stub: CalcomStub, make_client: ClientFactory
) -> None:
    stub.script(
        "GET /v2/bookings/u1",
        *[Reply(500, {"statusCode": 500, "message": "Internal server error"})] * 5,
    )
    with pytest.raises(CalcomServerError):
        await make_client(retry_attempts=2).get_booking(KEY, "u1")
    assert stub.count("GET /v2/bookings/u1") == 3


async def test_create_is_sent_once_and_a_5xx_is_ambiguous(
    stub: CalcomStub, make_client: ClientFactory
) -> None:
    stub.script(
        "POST /v2/bookings",
        Reply(500, {"statusCode": 500, "message": "Internal server error"}),
        success(booking_data(), 201),
    )
    with pytest.raises(CalcomServerError) as info:
        await make_client().create_booking(KEY, CREATE)
    assert info.value.ambiguous
    assert stub.count("POST /v2/bookings") == 1


async def test_timeout_is_ambiguous_and_reads_retry_it(
    stub: CalcomStub, make_client: ClientFactory
) -> None:
    stub.script("POST /v2/bookings", Reply(hang=True))
    stub.script("GET /v2/bookings/u1", Reply(hang=True), success(booking_data(uid="u1")))
    client = make_client(timeout_s=0.05)
    with pytest.raises(CalcomTimeout) as info:
        await client.create_booking(KEY, CREATE)
    assert info.value.ambiguous
    assert (await client.get_booking(KEY, "u1")) is not None


async def test_connection_reset_is_ambiguous(stub: CalcomStub, make_client: ClientFactory) -> None:
    stub.script("POST /v2/bookings", Reply(reset=True))
    with pytest.raises(CalcomConnectionError) as info:
        await make_client().create_booking(KEY, CREATE)
    assert info.value.ambiguous


async def test_refused_connection_is_not_ambiguous(clock: ManualClock) -> None:
    metrics = Metrics()
    client = CalcomClient(
        base_url="http://127.0.0.1:9",  # discard port: nothing listens
        timeout_s=1.0,
        retry_attempts=0,
        backoff=Backoff(0.2, 5.0, random.Random(1)),
        clock=clock,
        max_rate_limit_wait_s=65,
        circuit=CircuitBreaker(failure_threshold=5, open_s=30, now=clock.now),
        metrics=metrics,
    )
    try:
        with pytest.raises(CalcomConnectionError) as info:
            await client.create_booking(KEY, CREATE)
        assert not info.value.ambiguous
    finally:
        await client.close()


def test_backoff_is_exponential_capped_and_jittered() -> None:
    backoff = Backoff(0.2, 5.0, random.Random(3))
    for attempt in range(10):
        ceiling = min(5.0, 0.2 * 2**attempt)
        assert ceiling / 2 <= backoff.delay(attempt) <= ceiling
    assert [Backoff(0.2, 5.0, random.Random(3)).delay(2) for _ in range(2)] == [
        Backoff(0.2, 5.0, random.Random(3)).delay(2)
    ] * 2


# --- rate limits -------------------------------------------------------------------------------

THROTTLED = {
    "status": "error",
    "error": {
        "code": "ThrottlerException",
        "message": "Too many requests. Please try again later.",
    },
}


def throttled(reset: str) -> Reply:
    return Reply(
        429,
        THROTTLED,
        headers={
            "X-RateLimit-Limit-Default": "120",
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": reset,
        },
    )


async def test_429_waits_for_the_window_from_the_headers(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    stub.script("POST /v2/bookings", throttled("7"), success(booking_data(), 201))
    client = make_client()
    started = clock.now()
    booking = await client.create_booking(KEY, CREATE)  # a 429 is definite: safe to resend a create
    assert booking.uid == "uid1"
    assert clock.sleeps == [7.0]
    assert (clock.now() - started).total_seconds() == 7.0
    assert stub.count("POST /v2/bookings") == 2
    assert "Retry-After" not in stub.seen[0].headers
    assert sample(client, "booking_service_calcom_rate_limit_waits_total") == 1


async def test_429_beyond_the_wait_budget_fails_fast_and_holds_back(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    stub.script("GET /v2/bookings/u1", throttled("60"), success(booking_data(uid="u1")))
    client = make_client(max_wait=10)
    with pytest.raises(RateLimitedError) as info:
        await client.get_booking(KEY, "u1")
    assert info.value.reset_s == 60
    assert clock.sleeps == []
    # While the window is known to be closed, nothing is sent.
    with pytest.raises(RateLimitedError):
        await client.get_booking(KEY, "u1")
    assert stub.count("GET /v2/bookings/u1") == 1
    clock.advance(60)
    assert await client.get_booking(KEY, "u1") is not None


async def test_remaining_zero_waits_before_the_next_call(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    last_in_window = success(booking_data(uid="u1"))
    last_in_window.headers = {
        "X-RateLimit-Remaining-Default": "0",
        "X-RateLimit-Reset-Default": "12",
    }
    stub.script("GET /v2/bookings/u1", last_in_window, success(booking_data(uid="u1")))
    client = make_client()
    await client.get_booking(KEY, "u1")
    await client.get_booking(KEY, "u1")
    assert clock.sleeps == [12.0]  # waited instead of provoking a 429 and a 60 s block


async def test_calls_at_once_are_not_sent_past_what_the_window_has_left(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    """Cal.com said two requests remain in this window (10 s left). Of three calls at once, two
    are sent and the third waits for the next window, instead of all three being sent and the
    third refused (a 429, and a block at Cal.com)."""
    two_left = success(booking_data(uid="u1"))
    two_left.headers = {"X-RateLimit-Remaining-Default": "2", "X-RateLimit-Reset-Default": "10"}
    stub.script("GET /v2/bookings/u1", two_left, *(success(booking_data(uid="u1")),) * 3)
    client = make_client()
    await client.get_booking(KEY, "u1")
    await asyncio.gather(*(client.get_booking(KEY, "u1") for _ in range(3)))
    assert clock.sleeps == [10.0]
    assert stub.count("GET /v2/bookings/u1") == 4


async def test_a_request_can_leave_the_end_of_each_window_to_others(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    """One request of four is left in this window. A request that leaves a quarter of each
    window to others (an availability check, leaving room for bookings) waits for the next
    window; one that does not (a booking) is sent."""
    one_left = success(booking_data(uid="u1"))
    one_left.headers = {
        "X-RateLimit-Limit-Default": "4",
        "X-RateLimit-Remaining-Default": "1",
        "X-RateLimit-Reset-Default": "10",
    }
    stub.script("GET /v2/bookings/u1", one_left, *(success(booking_data(uid="u1")),) * 2)
    client = make_client()
    await client.get_booking(KEY, "u1")
    with rate_limit_wait_budget(5.0, leave=0.25), pytest.raises(RateLimitedError):
        await client.get_booking(KEY, "u1")
    assert stub.count("GET /v2/bookings/u1") == 1
    await client.get_booking(KEY, "u1")  # a booking takes the last request of the window
    with rate_limit_wait_budget(60.0, leave=0.25):
        await client.get_booking(KEY, "u1")  # waits for the next window
    assert clock.sleeps == [10.0]
    assert stub.count("GET /v2/bookings/u1") == 3


async def test_a_request_budget_caps_the_waits_over_all_its_calls(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    """A phone caller's request waits for windows only within its budget, over all its calls;
    outside the budget (and without one) the client's own limit applies."""
    stub.script(
        "GET /v2/bookings/u1",
        throttled("3"),
        success(booking_data(uid="u1")),
        throttled("3"),
        success(booking_data(uid="u1")),
    )
    client = make_client()
    with rate_limit_wait_budget(5.0) as budget:
        await client.get_booking(KEY, "u1")  # waits 3 s of the 5
        with pytest.raises(RateLimitedError):
            await client.get_booking(KEY, "u1")  # 3 s more would exceed the budget
    assert clock.sleeps == [3.0]
    assert budget.seconds == 2.0
    await client.get_booking(KEY, "u1")  # no budget here: the window is waited for
    assert clock.sleeps == [3.0, 3.0]


# --- circuit breaker ---------------------------------------------------------------------------


async def test_circuit_opens_fails_fast_and_recovers_through_half_open(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    failure = Reply(503, {"statusCode": 503, "message": "Service Unavailable"})
    stub.script(
        "POST /v2/bookings", failure, failure, failure, failure, success(booking_data(), 201)
    )
    client = make_client(threshold=3, open_s=30)
    for _ in range(3):
        with pytest.raises(CalcomServerError):
            await client.create_booking(KEY, CREATE)
    assert client.circuit.state == "open"
    assert sample(client, "booking_service_calcom_circuit_state") == 2
    with pytest.raises(CircuitOpenError):
        await client.create_booking(KEY, CREATE)
    assert stub.count("POST /v2/bookings") == 3  # refused without sending

    clock.advance(30)
    assert client.circuit.state == "half_open"
    with pytest.raises(CalcomServerError):  # the probe fails: open again
        await client.create_booking(KEY, CREATE)
    assert client.circuit.state == "open"

    clock.advance(30)
    await client.create_booking(KEY, CREATE)  # the probe succeeds: closed
    assert client.circuit.state == "closed"
    assert sample(client, "booking_service_calcom_circuit_state") == 0


def test_half_open_lets_one_probe_through_at_a_time(clock: ManualClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_s=10, now=clock.now)
    breaker.before_call()
    breaker.record_failure()
    clock.advance(10)
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    breaker.abandon()  # the probe was cancelled: the next caller may probe
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"


def test_4xx_and_429_count_as_a_living_server(clock: ManualClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_s=10, now=clock.now)
    breaker.record_failure()
    breaker.record_success()  # e.g. a 400 or a 429: Cal.com answers
    breaker.record_failure()
    assert breaker.state == "closed"


async def test_reset_closes_the_circuit_and_forgets_rate_limit_windows(
    stub: CalcomStub, make_client: ClientFactory, clock: ManualClock
) -> None:
    stub.script("GET /v2/bookings/u1", throttled("60"), success(booking_data(uid="u1")))
    client = make_client(max_wait=10, threshold=1)
    with pytest.raises(RateLimitedError):
        await client.get_booking(KEY, "u1")
    client.circuit.record_failure()
    assert client.circuit.state == "open"
    client.reset()
    assert client.circuit.state == "closed"
    assert await client.get_booking(KEY, "u1") is not None  # sent at once, no wait
    assert clock.sleeps == []
