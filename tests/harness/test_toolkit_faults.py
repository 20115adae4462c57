"""The fault-directive builders (harness/faults.py) say what the directives spelled out by hand
said: the fake parses each builder's directive exactly as the dict the scenarios used to write."""

from __future__ import annotations

from typing import Any

import pytest

from fake_calcom.backend.faults import FaultPlan
from harness import faults as f

CREATE_MATCH = {"method": "POST", "path": "/v2/bookings"}
ALWAYS = {"kind": "always"}


def by_hand(name: str, action: dict[str, Any], match: dict[str, Any] | None = None,
            trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "match": match or CREATE_MATCH, "trigger": trigger or ALWAYS,
            "action": action}


CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "overbook": (f.fault("overbook", f.overbook()), by_hand("overbook", {"kind": "overbook"})),
    "barrier-defaults": (f.fault("race", f.barrier(3, timeout_ms=10_000)),
                         by_hand("race", {"kind": "barrier", "parties": 3, "timeout_ms": 10_000})),
    "barrier-attendee": (f.fault("old", f.barrier(2, timeout_ms=500, key="attendee")),
                         by_hand("old", {"kind": "barrier", "parties": 2, "timeout_ms": 500,
                                         "key": "attendee"})),
    "slot-steal-default": (f.fault("steal", f.slot_steal(), nth=1),
                           by_hand("steal", {"kind": "slot_steal"}, trigger={"kind": "nth", "n": 1})),
    "slot-steal-named": (f.fault("steal", f.slot_steal("Sepp", "sepp@example.com"), nth=1),
                         by_hand("steal", {"kind": "slot_steal", "attendee": {
                             "name": "Sepp", "email": "sepp@example.com"}},
                             trigger={"kind": "nth", "n": 1})),
    "status-before": (f.fault("throttled", f.status(429), nth=1),
                      by_hand("throttled", {"kind": "status", "status": 429},
                              trigger={"kind": "nth", "n": 1})),
    "status-after-first": (f.fault("lost", f.status(503, "after"), first=1),
                           by_hand("lost", {"kind": "status", "status": 503, "phase": "after"},
                                   trigger={"kind": "first", "k": 1})),
    "reset-after": (f.fault("reset", f.reset("after")),
                    by_hand("reset", {"kind": "reset", "phase": "after"})),
    "hang-before": (f.fault("hang", f.hang()), by_hand("hang", {"kind": "hang"})),
    "truncate": (f.fault("cut", f.truncate()), by_hand("cut", {"kind": "truncate"})),
    "truncate-bytes": (f.fault("cut", f.truncate(10)),
                       by_hand("cut", {"kind": "truncate", "keep_bytes": 10})),
    "malformed": (f.fault("bad", f.malformed()), by_hand("bad", {"kind": "malformed"})),
    "empty": (f.fault("none", f.empty()), by_hand("none", {"kind": "empty"})),
    "rewrite": (f.fault("no-created-at", f.rewrite(**{"data.createdAt": None})),
                by_hand("no-created-at", {"kind": "rewrite", "set": {"data.createdAt": None}})),
    "stale-replay": (f.fault("stale-replay", f.stale_replay("start")),
                     by_hand("stale-replay", {"kind": "stale_replay", "key": "start"})),
    "latency-on-slots": (f.fault("slow", f.latency_ms(300), on=f.SLOTS, first=1),
                         by_hand("slow", {"kind": "latency", "distribution": "fixed", "ms": 300},
                                 match={"method": "GET", "path": "/v2/slots"},
                                 trigger={"kind": "first", "k": 1})),
    "on-cancel": (f.fault("lost-cancel", f.reset("after"), on=f.CANCEL),
                  by_hand("lost-cancel", {"kind": "reset", "phase": "after"},
                          match={"method": "POST", "path": "/v2/bookings/*/cancel"})),
    "body-match": (f.fault("one", f.status(500), body={"attendee.email": "a@example.com"}),
                   by_hand("one", {"kind": "status", "status": 500},
                           match={**CREATE_MATCH, "body": {"attendee.email": "a@example.com"}})),
    "webhook-drop-all": (f.webhook_fault("no-webhooks", f.webhook_drop()),
                         {"name": "no-webhooks", "match": {"webhook": "*"}, "trigger": ALWAYS,
                          "action": {"kind": "webhook_drop"}}),
    "webhook-delay": (f.webhook_fault("late", f.webhook_delay(200), event="BOOKING_CREATED"),
                      {"name": "late", "match": {"webhook": "BOOKING_CREATED"}, "trigger": ALWAYS,
                       "action": {"kind": "webhook_delay", "ms": 200}}),
    "webhook-reorder": (f.webhook_fault("held", f.webhook_reorder(), event="BOOKING_CREATED"),
                        {"name": "held", "match": {"webhook": "BOOKING_CREATED"},
                         "trigger": ALWAYS, "action": {"kind": "webhook_reorder"}}),
    "webhook-duplicate": (f.webhook_fault("x3", f.webhook_duplicate(3), event="BOOKING_CREATED"),
                          {"name": "x3", "match": {"webhook": "BOOKING_CREATED"},
                           "trigger": ALWAYS, "action": {"kind": "webhook_duplicate",
                                                         "copies": 3}}),
    "webhook-bad-signature": (f.webhook_fault("forged", f.webhook_bad_signature(), nth=2),
                              {"name": "forged", "match": {"webhook": "*"},
                               "trigger": {"kind": "nth", "n": 2},
                               "action": {"kind": "webhook_bad_signature"}}),
}


def parsed(directive: dict[str, Any]) -> tuple[Any, ...]:
    fault = FaultPlan().add(directive)
    return fault.name, fault.match, fault.trigger, fault.action


@pytest.mark.parametrize("case", list(CASES))
def test_a_built_directive_means_what_the_spelled_out_one_meant(case: str) -> None:
    built, spelled = CASES[case]
    assert parsed(built) == parsed(spelled)


def test_a_different_directive_parses_differently() -> None:
    """The comparison above can fail: a changed parameter shows."""
    assert parsed(f.fault("x", f.status(503, "after"))) != parsed(f.fault("x", f.status(503)))
    assert parsed(f.fault("x", f.barrier(2))) != parsed(f.fault("x", f.barrier(2, key="attendee")))


def test_probability_trigger() -> None:
    assert f.trigger(p=0.25) == {"kind": "probability", "p": 0.25}
    assert f.trigger() == ALWAYS
