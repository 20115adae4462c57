"""Clear answers: every answer a caller got is a well-formed answer of the voice API.

A voice agent reads the answer to a caller, so a service must answer every request — also when
Cal.com fails, the database is busy or refuses a write — with a JSON object of the voice API
(docs/contracts.md §2.3): a ``status`` token (``slot_taken``, not ``Slot taken!``), ``success`` a
boolean, ``message`` (when given) text (adapters of other API shapes may have none to pass on),
``reason`` (when given) a token, and nothing of a traceback or an exception's text anywhere. A 5xx or a reply that is not JSON is a violation.
Operations that got no answer at all (the harness gave up waiting) are not answers and are
judged by the booking invariants instead. Judged per operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from harness.checks.facts import Facts
from harness.checks.verdict import UNCLEAR_ANSWER, Verdict, Violation
from harness.history import Operation

NAME = "clear-answers"

#: The voice API's operations (the harness's vocabulary).
VOICE_OPERATIONS = ("check", "collect", "cancel", "reschedule")

#: Text that only a crash puts into an answer.
_CRASH = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|"
                    r"\b[A-Z]\w*(?:Error|Exception)\b(?::|\()|sqlalchemy\.|IntegrityError|"
                    r"Internal Server Error")
_TOKEN = re.compile(r"^[a-z][a-z0-9_]*$")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def problems(op: Operation) -> list[str]:
    """Why the answer an operation got is not a clear answer of the voice API (empty if it is)."""
    if op.completion is None:
        return []
    answer = op.answer
    if isinstance(answer, dict) and ("http_status" in answer or "error" in answer) \
            and "status" not in answer:
        # The driver's record of an exchange without a usable answer.
        status = answer.get("http_status")
        if status is None:
            return []  # no answer at all: not an answer
        body = answer.get("body")
        if not isinstance(body, dict):
            return [f"the service answered HTTP {status} without a JSON object"]
        if isinstance(status, int) and status >= 500 and (
                "status" not in body or isinstance(body.get("message"), str)):
            # A voice-API answer never comes with a 5xx; an adapter of an API whose 5xx means
            # "unknown" (examples/rest_booking) translates it into a bare status, which passes.
            return [f"the service answered HTTP {status}"]
        answer = body
    if not isinstance(answer, dict):
        return ["the answer is not a JSON object"]
    found: list[str] = []
    status = answer.get("status")
    if not isinstance(status, str) or not status:
        found.append("the answer has no status")
    elif not _TOKEN.match(status):
        found.append(f"status {status[:80]!r} is not a status token")
    if "success" in answer and not isinstance(answer["success"], bool):
        found.append(f"success is {answer['success']!r}, not a boolean")
    message = answer.get("message")
    if message is not None and not isinstance(message, str):
        found.append(f"the message is {type(message).__name__}, not text")
    reason = answer.get("reason")
    if reason is not None and not (isinstance(reason, str) and _TOKEN.match(reason)):
        found.append(f"reason {str(reason)[:80]!r} is not a reason token")
    for text in _strings(answer):
        crash = _CRASH.search(text)
        if crash:
            found.append(f"the answer carries crash text {crash.group(0)!r}")
            break
    return found


def outside(op: Operation) -> bool:
    """A change made in Cal.com directly (the driver's ``outside-calcom``): not a caller's."""
    request = op.request
    return "outside" in (op.process or "") or (isinstance(request, dict) and "by" in request)


def check(facts: Facts) -> Verdict:
    if facts.history is None:
        return Verdict.skip(NAME, "no history")
    violations: list[Violation] = []
    checked = 0
    for op in facts.ops_of(*VOICE_OPERATIONS):
        if outside(op):
            continue
        checked += 1
        found = problems(op)
        if found:
            violations.append(Violation(
                kind=UNCLEAR_ANSWER, key=f"#{op.index} {op.f} {op.call_id or ''}".strip(),
                message=f"{op.f} of call {op.call_id} got an unclear answer: " + "; ".join(found),
                operations=[op], details={"problems": found},
            ))
    return Verdict.of(NAME, violations, checked=checked)
