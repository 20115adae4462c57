"""HTTP client for the Cal.com API v2, speaking the real wire format (shared/calcom/API-FACTS.md).

* `cal-api-version: 2024-08-13` for bookings, `2024-09-04` for slots; `Authorization: Bearer cal_…`.
* Success bodies are `{"status":"success","data":…}`; errors come as the v2 envelope
  (`{"status":"error","error":{"code","message"}}`) or as a bare Nest body
  (`{"statusCode":409,"message":"booking_conflict_error"}`), gateways answer HTML.
* 429 carries `X-RateLimit-{Limit,Remaining,Reset}-Default` and no Retry-After: the client waits
  for the window (on the service clock) when it is near enough — within `max_rate_limit_wait_s`
  per call and within the `rate_limit_wait_budget` of the request, if it has one — and stops
  sending while a key's window is known to be exhausted: refused, or used up by what Cal.com
  last said remains and the requests already on their way (concurrent callers would otherwise
  all be sent into the end of a window, and every one past the limit refused).
* Reads are retried with exponential backoff and jitter on 5xx, timeouts and connection errors.
  Writes (create, reschedule, cancel) are sent once per call here: after an ambiguous failure only
  the caller can tell whether a retry is safe (it looks the booking up first).
* Every call passes the circuit breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDictProxy

from booking_service.calcom.backoff import Backoff
from booking_service.calcom.circuit import CircuitBreaker
from booking_service.calcom.errors import (
    CalcomBadResponse,
    CalcomConnectionError,
    CalcomError,
    CalcomRequestError,
    CalcomServerError,
    CalcomTimeout,
    CalcomUnavailable,
    RateLimitedError,
)
from booking_service.calcom.models import EventTypeShape, UpstreamBooking, iso_z, parse_instant
from booking_service.clock import Clock, utc_now
from booking_service.metrics import Metrics
from booking_service.timing import record_upstream

BOOKINGS_API_VERSION = "2024-08-13"
SLOTS_API_VERSION = "2024-09-04"
EVENT_TYPES_API_VERSION = "2024-06-14"
DEFAULT_RATE_LIMIT_WINDOW_S = 60.0

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Window:
    """What Cal.com last said about an API key's rate-limit window."""

    remaining: int
    resets_at: datetime
    limit: int | None = None


@dataclass
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class WaitBudget:
    """Seconds one request may still spend waiting for rate-limit windows, over all its calls,
    and the share of each window it leaves to other requests (it sees the window closed when
    no more than that share is left)."""

    seconds: float
    leave: float = 0.0


_wait_budget: ContextVar[WaitBudget | None] = ContextVar("calcom_wait_budget", default=None)


@contextlib.contextmanager
def rate_limit_wait_budget(seconds: float, *, leave: float = 0.0) -> Iterator[WaitBudget]:
    """Within this block (this task and what it awaits), wait at most `seconds` in all for
    rate-limit windows, and leave the share `leave` of each window to other requests; a window
    further away fails at once with `RateLimitedError`."""
    budget = WaitBudget(seconds, leave)
    token = _wait_budget.set(budget)
    try:
        yield budget
    finally:
        with contextlib.suppress(ValueError):  # a request abandoned at shutdown ends elsewhere
            _wait_budget.reset(token)


def error_message(body: bytes) -> tuple[str, str | None]:
    """Cal.com's message and error code from an envelope, a bare Nest body, or anything else."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:200].decode("utf-8", "replace").strip()
        return (text or "no body"), None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            return _message_text(message), error.get("code") if isinstance(
                error.get("code"), str
            ) else None
        if "message" in parsed:
            return _message_text(parsed.get("message")), None
        if isinstance(error, str):
            return error, None
    return str(parsed)[:200], None


def _message_text(message: object) -> str:
    if isinstance(message, list):
        return ", ".join(str(m) for m in message)
    return str(message) if message is not None else ""


def rate_limit_reset_s(headers: CIMultiDictProxy[str], now: datetime) -> float | None:
    """Seconds until the window resets, from `X-RateLimit-Reset-Default`.

    Cal.com sends seconds until reset; an epoch (seconds or milliseconds) is accepted too.
    """
    raw = headers.get("X-RateLimit-Reset-Default")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if value > 1e12:  # epoch milliseconds
        value = value / 1000 - now.timestamp()
    elif value > 1e9:  # epoch seconds
        value = value - now.timestamp()
    return max(0.0, value)


class CalcomClient:
    """One client per Cal.com base URL; the API key is given per call (one per tenant)."""

    def __init__(
        self,
        *,
        base_url: str,
        timeout_s: float,
        retry_attempts: int,
        backoff: Backoff,
        clock: Clock,
        max_rate_limit_wait_s: float,
        circuit: CircuitBreaker,
        metrics: Metrics,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retry_attempts = retry_attempts
        self.backoff = backoff
        self.clock = clock
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self.circuit = circuit
        self.metrics = metrics
        self._session = session
        self._owns_session = session is None
        self._windows: dict[str, _Window] = {}
        self._in_flight: Counter[str] = Counter()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, ttl_dns_cache=300),
                headers={
                    "Accept": "application/json",
                    "User-Agent": "calharness-booking-service/0.1",
                },
            )

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def reset(self) -> None:
        """Forget runtime state: close the circuit and drop known-closed rate-limit windows.

        For the embedded harness between scenarios (the fake resets its limiter and clock too).
        """
        self.circuit.reset()
        self._windows.clear()

    # --- one exchange ------------------------------------------------------------------

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        api_key: str,
        api_version: str,
        endpoint: str,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
    ) -> _Answer:
        if self._session is None:
            await self.start()
        assert self._session is not None
        headers = {"Authorization": f"Bearer {api_key}", "cal-api-version": api_version}
        self.circuit.before_call()
        started = time.perf_counter()
        outcome = "error"
        try:
            async with self._session.request(
                method,
                self.base_url + path,
                params=params,
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                content = await response.read()
                answer = _Answer(response.status, response.headers, content)
        except aiohttp.ConnectionTimeoutError as exc:
            outcome = "timeout"
            self.circuit.record_failure()
            raise CalcomTimeout(
                f"connect to Cal.com timed out ({endpoint})", ambiguous=False
            ) from exc
        except TimeoutError as exc:
            outcome = "timeout"
            self.circuit.record_failure()
            raise CalcomTimeout(
                f"Cal.com did not answer within {self.timeout_s:g} s ({endpoint})"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            outcome = "connection"
            self.circuit.record_failure()
            raise CalcomConnectionError(
                f"cannot connect to Cal.com ({endpoint})", ambiguous=False
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            outcome = "bad_response"
            self.circuit.record_failure()
            raise CalcomBadResponse(f"Cal.com answer cut short ({endpoint})") from exc
        except aiohttp.ClientError as exc:
            outcome = "connection"
            self.circuit.record_failure()
            raise CalcomConnectionError(
                f"connection to Cal.com failed: {type(exc).__name__} ({endpoint})"
            ) from exc
        except asyncio.CancelledError:
            outcome = "cancelled"
            self.circuit.abandon()
            raise
        else:
            outcome = _status_class(answer.status)
            if answer.status >= 500:
                self.circuit.record_failure()
            else:
                self.circuit.record_success()
            return answer
        finally:
            elapsed = time.perf_counter() - started
            record_upstream(elapsed)
            self.metrics.calcom_latency.labels(endpoint=endpoint, outcome=outcome).observe(elapsed)

    def _closed_until(self, api_key: str, now: datetime) -> datetime | None:
        """When the key's window opens again, if it is known to be closed now."""
        window = self._windows.get(api_key)
        if window is None or window.resets_at <= now:
            return None
        budget = _wait_budget.get()
        left_to_others = (
            math.ceil(window.limit * budget.leave) if budget is not None and window.limit else 0
        )
        if window.remaining - self._in_flight[api_key] > left_to_others:
            return None
        return window.resets_at

    def _note_window(self, api_key: str, headers: CIMultiDictProxy[str], now: datetime) -> None:
        """Remember what an answer says is left of the key's window (the lower count wins
        within one window: answers can arrive out of order)."""
        reset = rate_limit_reset_s(headers, now)
        try:
            remaining = int(headers.get("X-RateLimit-Remaining-Default", ""))
        except ValueError:
            return
        if reset is None:
            return
        resets_at = now + _seconds(reset)
        limit = headers.get("X-RateLimit-Limit-Default", "")
        known = self._windows.get(api_key)
        if (
            known is not None
            and now < known.resets_at
            and resets_at <= known.resets_at + _seconds(1)
        ):
            remaining = min(remaining, known.remaining)
        self._windows[api_key] = _Window(
            remaining, resets_at, int(limit) if limit.isdigit() else None
        )

    async def _respect_window(self, api_key: str, waited: float) -> float:
        """Wait out a known-closed rate-limit window (or refuse if it is too far away)."""
        while True:
            now = utc_now(self.clock)
            until = self._closed_until(api_key, now)
            if until is None:
                return waited
            seconds = (until - now).total_seconds()
            if not self._may_wait(waited, seconds):
                raise RateLimitedError(seconds)
            await self._wait_window(seconds)
            waited += seconds

    def _may_wait(self, waited: float, seconds: float) -> bool:
        """Within this call's limit and the request's budget, having waited `waited` s already?"""
        if waited + seconds > self.max_rate_limit_wait_s:
            return False
        budget = _wait_budget.get()
        return budget is None or seconds <= budget.seconds

    async def _wait_window(self, seconds: float) -> None:
        budget = _wait_budget.get()
        if budget is not None:
            budget.seconds -= seconds
        self.metrics.rate_limit_waits.inc()
        self.metrics.rate_limit_wait_seconds.inc(seconds)
        log.info("waiting %.1f s for the Cal.com rate-limit window", seconds)
        await self.clock.sleep(seconds)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        api_key: str,
        api_version: str,
        endpoint: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """One logical attempt: send (waiting out 429 windows) and interpret the answer.

        Returns the parsed JSON body of a 2xx; raises a `CalcomError` otherwise.
        """
        waited = 0.0
        while True:
            waited = await self._respect_window(api_key, waited)
            self._in_flight[api_key] += 1
            try:
                answer = await self._exchange(
                    method,
                    path,
                    api_key=api_key,
                    api_version=api_version,
                    endpoint=endpoint,
                    params=params,
                    body=body,
                )
            finally:
                self._in_flight[api_key] -= 1
            now = utc_now(self.clock)
            self._note_window(api_key, answer.headers, now)
            if answer.status == 429:
                reset = rate_limit_reset_s(answer.headers, now)
                wait = max(1.0, reset if reset is not None else DEFAULT_RATE_LIMIT_WINDOW_S)
                self._windows[api_key] = _Window(0, now + _seconds(wait))
                if not self._may_wait(waited, wait):
                    raise RateLimitedError(wait)
                self.metrics.calcom_retries.labels(endpoint=endpoint, reason="rate_limited").inc()
                await self._wait_window(wait)
                waited += wait
                continue
            return self._interpret(answer, endpoint)

    def _interpret(self, answer: _Answer, endpoint: str) -> Any:
        if 200 <= answer.status < 300:
            try:
                parsed = json.loads(answer.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise CalcomBadResponse(
                    f"Cal.com {answer.status} body is not JSON ({endpoint})"
                ) from exc
            if (
                not isinstance(parsed, dict)
                or parsed.get("status") != "success"
                or "data" not in parsed
            ):
                raise CalcomBadResponse(
                    f"Cal.com {answer.status} body is not a success envelope ({endpoint})"
                )
            return parsed
        message, code = error_message(answer.body)
        if answer.status >= 500:
            raise CalcomServerError(answer.status, message)
        if 400 <= answer.status < 500:
            raise CalcomRequestError(answer.status, message, code)
        raise CalcomBadResponse(f"unexpected HTTP {answer.status} from Cal.com ({endpoint})")

    async def _post(self, api_key: str, path: str, endpoint: str, body: dict[str, Any]) -> Any:
        """A write to the bookings API, sent once: only the caller can tell whether a retry is
        safe after an ambiguous failure."""
        return await self._call(
            "POST",
            path,
            api_key=api_key,
            api_version=BOOKINGS_API_VERSION,
            endpoint=endpoint,
            body=body,
        )

    async def _get(
        self,
        api_key: str,
        path: str,
        endpoint: str,
        parse: Callable[[Any], T],
        *,
        api_version: str = BOOKINGS_API_VERSION,
        params: dict[str, str] | None = None,
    ) -> T:
        """A read, retried with backoff on `CalcomUnavailable` (`parse` runs inside the retry,
        so an unreadable answer is retried too)."""
        for number in range(self.retry_attempts + 1):
            try:
                parsed = await self._call(
                    "GET",
                    path,
                    api_key=api_key,
                    api_version=api_version,
                    endpoint=endpoint,
                    params=params,
                )
                return parse(parsed)
            except CalcomUnavailable as exc:
                if number == self.retry_attempts:
                    raise
                self.metrics.calcom_retries.labels(endpoint=endpoint, reason=exc.kind).inc()
                await self.clock.sleep(self.backoff.delay(number))
        raise AssertionError("unreachable")

    async def _get_known(
        self,
        api_key: str,
        path: str,
        endpoint: str,
        parse: Callable[[Any], T],
        *,
        api_version: str = BOOKINGS_API_VERSION,
    ) -> T | None:
        """`_get`, with None where Cal.com does not know the thing (404)."""
        try:
            return await self._get(api_key, path, endpoint, parse, api_version=api_version)
        except CalcomRequestError as exc:
            if exc.status == 404:
                return None
            raise

    # --- the API the service uses --------------------------------------------------------

    async def open_window(self, api_key: str) -> None:
        """Return once the key's rate-limit window is open (waiting within the request's budget),
        or raise `RateLimitedError`: for flows that should not wait later, holding a lock."""
        await self._respect_window(api_key, 0.0)

    async def create_booking(self, api_key: str, body: dict[str, Any]) -> UpstreamBooking:
        """POST /v2/bookings once. Ambiguous failures raise `CalcomUnavailable(ambiguous=True)`."""
        parsed = await self._post(api_key, "/v2/bookings", "POST /v2/bookings", body)
        return UpstreamBooking.from_api(parsed["data"])

    async def reschedule_booking(
        self, api_key: str, uid: str, start: datetime, reason: str | None = None
    ) -> UpstreamBooking:
        body: dict[str, Any] = {"start": iso_z(start)}
        if reason:
            body["reschedulingReason"] = reason
        parsed = await self._post(
            api_key, f"/v2/bookings/{uid}/reschedule", "POST /v2/bookings/{uid}/reschedule", body
        )
        return UpstreamBooking.from_api(parsed["data"])

    async def cancel_booking(self, api_key: str, uid: str, reason: str) -> UpstreamBooking | None:
        parsed = await self._post(
            api_key,
            f"/v2/bookings/{uid}/cancel",
            "POST /v2/bookings/{uid}/cancel",
            {"cancellationReason": reason},
        )
        try:
            return UpstreamBooking.from_api(parsed.get("data"))
        except CalcomBadResponse:
            return None  # cancelled; the body is not needed

    async def get_booking(self, api_key: str, uid: str) -> UpstreamBooking | None:
        """GET /v2/bookings/{uid}; None when Cal.com does not know it (404)."""

        def parse(parsed: Any) -> UpstreamBooking:
            data = parsed["data"]
            if isinstance(data, list):  # a recurring series: the first occurrence is enough here
                data = data[0] if data else None
            return UpstreamBooking.from_api(data)

        return await self._get_known(
            api_key, f"/v2/bookings/{uid}", "GET /v2/bookings/{uid}", parse
        )

    async def list_bookings(
        self,
        api_key: str,
        *,
        after_start: datetime | None = None,
        before_end: datetime | None = None,
        attendee_email: str | None = None,
        event_type_ids: list[int] | None = None,
        page_size: int = 100,
        max_pages: int = 100,
    ) -> list[UpstreamBooking]:
        """GET /v2/bookings, all pages (`take`/`skip`)."""
        params: dict[str, str] = {"take": str(page_size)}
        if after_start is not None:
            params["afterStart"] = iso_z(after_start)
        if before_end is not None:
            params["beforeEnd"] = iso_z(before_end)
        if attendee_email:
            params["attendeeEmail"] = attendee_email
        if event_type_ids:
            params["eventTypeIds"] = ",".join(str(i) for i in event_type_ids)
        bookings: list[UpstreamBooking] = []
        for page in range(max_pages):
            parsed = await self._get(
                api_key,
                "/v2/bookings",
                "GET /v2/bookings",
                _as_is,
                params={**params, "skip": str(page * page_size)},
            )
            items = parsed.get("data")
            if isinstance(items, dict) and isinstance(items.get("bookings"), list):
                items = items["bookings"]
            if not isinstance(items, list):
                raise CalcomBadResponse("booking list is not a list")
            for item in items:
                try:
                    bookings.append(UpstreamBooking.from_api(item))
                except CalcomBadResponse:
                    log.warning("skipping an unreadable booking in the Cal.com list")
            pagination = parsed.get("pagination")
            has_next = pagination.get("hasNextPage") if isinstance(pagination, dict) else None
            if has_next is False or (has_next is None and len(items) < page_size) or not items:
                break
        return bookings

    async def get_event_type(self, api_key: str, event_type_id: int) -> EventTypeShape | None:
        """GET /v2/event-types/{id} (2024-06-14): its scheduling type and host count; None if unknown."""
        return await self._get_known(
            api_key,
            f"/v2/event-types/{event_type_id}",
            "GET /v2/event-types/{id}",
            lambda parsed: EventTypeShape.from_api(parsed.get("data")),
            api_version=EVENT_TYPES_API_VERSION,
        )

    async def free_slots(
        self, api_key: str, event_type_id: int, start: datetime, end: datetime
    ) -> list[datetime]:
        """GET /v2/slots (2024-09-04): free slot starts in [start, end], as aware UTC, sorted."""
        parsed = await self._get(
            api_key,
            "/v2/slots",
            "GET /v2/slots",
            _as_is,
            api_version=SLOTS_API_VERSION,
            params={"eventTypeId": str(event_type_id), "start": iso_z(start), "end": iso_z(end)},
        )
        data = parsed.get("data")
        if not isinstance(data, dict):
            raise CalcomBadResponse("slots data is not an object")
        starts: set[datetime] = set()
        for day_slots in data.values():
            if not isinstance(day_slots, list):
                continue
            for slot in day_slots:
                value = slot.get("start", slot.get("time")) if isinstance(slot, dict) else slot
                instant = parse_instant(value)
                if instant is not None:
                    starts.add(instant)
        return sorted(starts)


def _as_is(parsed: Any) -> Any:
    return parsed


def _status_class(status: int) -> str:
    if status == 429:
        return "429"
    return f"{status // 100}xx"


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


__all__ = ["BOOKINGS_API_VERSION", "SLOTS_API_VERSION", "CalcomClient", "CalcomError"]
