"""One phone call as the voice agent drives it — independent of Locust, so it is testable alone.

    ask for a time → check availability → talk (think time) → collect the appointment
    slot gone → take an offered alternative, talk a little, collect again (at most
    ``max_attempts`` collects) → end when booked or given up

Every request goes into the harness history (invoke → ok | fail | info, contract §3) through the
recorder, so the checkers can judge the run afterwards. The transport is a plain function
(:data:`Exchange`): Locust's ``FastHttpUser`` client in a load run, anything else in a test.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.history import HistoryRecorder, PendingOperation
from harness.slots import Slot
from loadtests.demand import choose_alternative, slot_from_answer
from loadtests.distributions import Distribution

CHECK = "check-availability"
COLLECT = "collect-appointment"

#: Answers that are part of a normal call (Locust counts them as successes); anything else —
#: rate_limited, upstream_unavailable, timeout, error, stale data, an HTTP error — is a failure.
EXPECTED: dict[str, frozenset[str]] = {
    CHECK: frozenset({"available", "unavailable"}),
    COLLECT: frozenset({"booked", "slot_taken", "race_condition_detected"}),
}
#: Collect answers meaning "that slot is gone, here are others".
SLOT_GONE = frozenset({"slot_taken", "race_condition_detected"})

BOOKED, GAVE_UP, ERROR = "booked", "gave_up", "error"
OUTCOMES = (BOOKED, GAVE_UP, ERROR)

_FIRST = ("Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas",
          "Klara", "Lukas", "Marie", "Noah", "Olga", "Paul", "Rosa", "Stefan", "Tilda", "Uwe")
_LAST = ("Becker", "Schuster", "Krause", "Wolf", "Schmidt", "Meyer", "Wagner", "Hoffmann",
         "Koch", "Richter", "Klein", "Neumann", "Schwarz", "Zimmermann", "Braun", "Hartmann")


@dataclass
class Reply:
    """What one request to the service came back with (``http_status`` None: no answer)."""

    http_status: int | None
    body: Any = None
    error: str | None = None

    @property
    def status(self) -> str | None:
        return self.body.get("status") if isinstance(self.body, dict) else None


#: (function, args, to_number) → Reply. ``function`` is ``CHECK`` or ``COLLECT``.
Exchange = Callable[[str, dict[str, Any], str | None], Reply]


@dataclass(frozen=True)
class Call:
    """Who is calling, about what."""

    call_id: str
    process: str  # the history's logical process (one call at a time per caller)
    service: str
    wanted: Slot
    name: str
    telefon: str
    to_number: str | None = None


@dataclass(frozen=True)
class CallerTiming:
    """Already-scaled pauses (seconds)."""

    think: Distribution
    retry_think: Distribution
    max_attempts: int = 3


@dataclass
class CallResult:
    outcome: str  # booked | gave_up | error
    reason: str
    duration_s: float
    attempts: int = 0
    statuses: list[str] = field(default_factory=list)
    slot: str | None = None  # the start booked


def caller_identity(rng: random.Random) -> tuple[str, str]:
    """A caller's name and mobile number (no e-mail: the service uses the company's fallback)."""
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return name, "+49151" + "".join(str(rng.randrange(10)) for _ in range(8))


def _record(recorder: HistoryRecorder, call: Call, f: str, slot: Slot, args: dict[str, Any],
            exchange: Exchange, function: str) -> Reply:
    pending: PendingOperation = recorder.invoke(call.process, f, call.call_id, slot.start, args)
    try:
        reply = exchange(function, args, call.to_number)
    except BaseException as exc:  # killed mid-request (Locust stopping): the outcome is unknown
        pending.error(exc)
        raise
    if reply.http_status is None:
        pending.info({"error": reply.error})
    elif reply.http_status >= 500 or not isinstance(reply.body, dict):
        pending.info({"http_status": reply.http_status, "body": reply.body})
    else:
        pending.answer(reply.body)
    return reply


def _problem(reply: Reply) -> str:
    if reply.http_status is None:
        return f"transport:{reply.error or 'no answer'}"
    if reply.http_status != 200 or not isinstance(reply.body, dict):
        return f"http:{reply.http_status}"
    return f"status:{reply.status}"


def run_call(call: Call, exchange: Exchange, recorder: HistoryRecorder, timing: CallerTiming,
             rng: random.Random, *, sleep: Callable[[float], Any] = time.sleep,
             clock: Callable[[], float] = time.perf_counter) -> CallResult:
    """Drive one call to its end; the duration runs from the availability check to the end."""
    started = clock()
    statuses: list[str] = []

    def done(outcome: str, reason: str, attempts: int, slot: str | None = None) -> CallResult:
        return CallResult(outcome, reason, clock() - started, attempts, statuses, slot)

    check_args = {"datum": call.wanted.datum, "uhrzeit": call.wanted.uhrzeit,
                  "dienstleistung": call.service, "call_id": call.call_id}
    reply = _record(recorder, call, "check", call.wanted, check_args, exchange, CHECK)
    statuses.append(f"check:{reply.status}")
    if reply.status not in EXPECTED[CHECK] or reply.http_status != 200:
        return done(ERROR, _problem(reply), 0)
    tried: set[str] = set()
    target: Slot | None = call.wanted
    if reply.status == "unavailable":
        tried.add(call.wanted.start)
        target = _alternative(rng, reply, tried)
        if target is None:
            return done(GAVE_UP, "no_alternative", 0)
    sleep(timing.think.draw(rng))  # the agent and the caller talk: the incident's 14 s gap

    attempts = 0
    while target is not None:
        attempts += 1
        tried.add(target.start)
        collect_args = {"datum": target.datum, "uhrzeit": target.uhrzeit, "name": call.name,
                        "telefon": call.telefon, "dienstleistung": call.service,
                        "call_id": call.call_id}
        reply = _record(recorder, call, "collect", target, collect_args, exchange, COLLECT)
        statuses.append(f"collect:{reply.status}")
        if reply.http_status == 200 and reply.status == "booked":
            return done(BOOKED, BOOKED, attempts, target.start)
        if reply.http_status != 200 or reply.status not in SLOT_GONE:
            return done(ERROR, _problem(reply), attempts)
        if attempts >= timing.max_attempts:
            return done(GAVE_UP, "attempts_exhausted", attempts)
        target = _alternative(rng, reply, tried)
        if target is None:
            return done(GAVE_UP, "no_alternative", attempts)
        sleep(timing.retry_think.draw(rng))  # hearing the alternatives and picking one
    raise AssertionError("unreachable")  # pragma: no cover


def _alternative(rng: random.Random, reply: Reply, tried: set[str]) -> Slot | None:
    offered = reply.body.get("alternatives") if isinstance(reply.body, dict) else None
    slots = [s for s in (slot_from_answer(a) for a in offered or []) if s is not None]
    return choose_alternative(rng, slots, tried)


@dataclass
class OutcomeCounter:
    """Outcome counts of finished calls (one per process; the master adds them up)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    attempts: Counter[int] = field(default_factory=Counter)
    #: seconds from the check to "booked", per booked call: the booking flow the 45-s target is
    #: about (a call refused in milliseconds is no booking flow, and must not flatter the p95)
    booked_s: list[float] = field(default_factory=list)

    def add(self, result: CallResult) -> None:
        self.outcomes[result.outcome] += 1
        self.reasons[f"{result.outcome}:{result.reason}"] += 1
        self.statuses.update(result.statuses)
        self.attempts[result.attempts] += 1
        if result.outcome == BOOKED:
            self.booked_s.append(round(result.duration_s, 4))

    def to_json(self) -> dict[str, Any]:
        return {"outcomes": dict(self.outcomes), "reasons": dict(self.reasons),
                "statuses": dict(self.statuses),
                "attempts": {str(k): v for k, v in sorted(self.attempts.items())},
                "booked_s": self.booked_s}

    def merge_json(self, data: dict[str, Any]) -> None:
        self.outcomes.update(data.get("outcomes", {}))
        self.reasons.update(data.get("reasons", {}))
        self.statuses.update(data.get("statuses", {}))
        self.attempts.update({int(k): v for k, v in data.get("attempts", {}).items()})
        self.booked_s.extend(float(v) for v in data.get("booked_s", ()))
