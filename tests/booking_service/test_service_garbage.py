"""Whatever a voice agent (or anyone) sends, the Retell endpoints answer 200 with a clear status.

Hypothesis throws arbitrary JSON and near-miss arguments at a running stack (its own event loop
in a thread, so the property test itself stays synchronous).
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_stack import Stack, open_stack

from fake_calcom.loop_thread import LoopThread

T = TypeVar("T")

COMMON = {
    "missing_required_field",
    "invalid_date",
    "invalid_time",
    "past_date",
    "unknown_service",
    "upstream_unavailable",
    "circuit_open",
    "error",
    "rate_limited",
    "timeout",
}
STATUSES = {
    "check-availability": COMMON | {"available", "unavailable"},
    "collect-appointment": COMMON
    | {
        "booked",
        "confirmation_required",
        "slot_taken",
        "race_condition_detected",
        "stale_booking_data",
        "duplicate",
    },
    "cancel-appointment": COMMON | {"cancelled", "already_cancelled", "not_found"},
    "reschedule-appointment": COMMON
    | {
        "rescheduled",
        "slot_taken",
        "not_found",
        "already_cancelled",
        "race_condition_detected",
        "stale_booking_data",
        "duplicate",
    },
}
FIELDS = (
    "datum",
    "uhrzeit",
    "name",
    "telefon",
    "email",
    "dienstleistung",
    "call_id",
    "bestaetigung",
    "appointment_id",
    "neues_datum",
    "neue_uhrzeit",
    "grund",
)


class ThreadedStack:
    """The stack on its own event loop thread; `run` executes a coroutine there."""

    def __init__(self, database_url: str) -> None:
        self._manager = open_stack(database_url, webhooks=False)
        self.loop: LoopThread | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return self.loop.run(coroutine, timeout=60)

    def __enter__(self) -> Stack:
        self.loop = LoopThread(name="garbage-stack")
        return self.run(self._manager.__aenter__())

    def __exit__(self, *exc: object) -> None:
        self.run(self._manager.__aexit__(None, None, None))
        assert self.loop is not None
        self.loop.close()


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadedStack, Stack]]:
    path: Path = tmp_path_factory.mktemp("garbage") / "booking.db"
    runner = ThreadedStack(f"sqlite:///{path}")
    with runner as stack:
        yield runner, stack


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
near_misses = st.sampled_from(
    [
        "07.01.2026",
        "14:00",
        "halb drei",
        "morgen",
        "Mittwoch",
        "Beratung",
        "Teamtermin",
        "call_x",
        "",
        "   ",
        "31.02.2026",
        "25:00",
        "x" * 600,
        "Hans Schuster",
        "+49 170 1234567",
        "a@b.de",
        "nein",
        "1",
        "-5",
        "2026-13-45",
        "'; DROP TABLE appointments; --",
        "\x00",
        "🙂",
        "99999999999999999999",
    ]
)
argument = st.one_of(near_misses, json_values)
args = st.fixed_dictionaries({}, optional={name: argument for name in FIELDS})
call = st.one_of(
    json_values, st.fixed_dictionaries({}, optional={"to_number": argument, "call_id": argument})
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"args": st.one_of(args, json_values)}, optional={"call": call}),
)


def check_answer(function: str, status: int, answer: Any) -> None:
    assert status == 200, answer
    assert isinstance(answer, dict), answer
    assert isinstance(answer["success"], bool)
    assert answer["status"] in STATUSES[function], answer
    assert isinstance(answer["message"], str)
    assert answer["message"]
    assert isinstance(answer["alternatives"], list)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(function=st.sampled_from(sorted(STATUSES)), body=bodies)
def test_any_json_gets_200_and_a_known_status(
    threaded: tuple[ThreadedStack, Stack], function: str, body: Any
) -> None:
    runner, stack = threaded
    status, answer = runner.run(
        stack.post(f"/api/retell/{function}", raw=json.dumps(body).encode())
    )
    check_answer(function, status, answer)


@pytest.mark.parametrize("function", sorted(STATUSES))
@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'"text"',
        b'{"args": "datum=heute"}',
        b"{}" + b" " * (2 << 20),
    ],
    ids=[
        "empty",
        "text",
        "broken",
        "binary",
        "array",
        "null",
        "string",
        "args-string",
        "too-large",
    ],
)
def test_unreadable_bodies(
    threaded: tuple[ThreadedStack, Stack], function: str, raw: bytes
) -> None:
    runner, stack = threaded
    status, answer = runner.run(stack.post(f"/api/retell/{function}", raw=raw))
    check_answer(function, status, answer)
    assert answer["success"] is False


def test_unknown_paths_and_methods_are_json(threaded: tuple[ThreadedStack, Stack]) -> None:
    runner, stack = threaded

    async def probe() -> list[tuple[int, str]]:
        results = []
        for method, path in (
            ("GET", "/nope"),
            ("DELETE", "/healthz"),
            ("GET", "/api/retell/collect-appointment"),
        ):
            async with stack.http.request(method, stack.url + path) as response:
                body = await response.json()
                results.append((response.status, body.get("error") or body["status"]))
        return results

    # Even a wrong method on a voice endpoint is a 200 with a status the agent can read.
    assert runner.run(probe()) == [(404, "not_found"), (405, "method_not_allowed"), (200, "error")]
