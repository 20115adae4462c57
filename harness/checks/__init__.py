"""Invariant checkers over a history, the service's view and Cal.com's ground truth.

Each checker is a small module with one job and a ``check(facts) -> Verdict``; :func:`run_all`
builds the shared indexes once and runs them all (or ``only`` some). A checker whose inputs are
missing (no database access, no ground truth on a real Cal.com) returns a *skipped* verdict,
which is ``ok``: the report says what could not be judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from harness.checks import (
    answers,
    booking_uids,
    drift,
    host_slots,
    local_slots,
    lost,
    one_upstream,
    phantom,
    stolen,
    tenants,
    told,
    webhooks,
)
from harness.checks.facts import CheckOptions, Facts
from harness.checks.inputs import (
    Appointment,
    AuditEntry,
    GroundTruth,
    InputError,
    ProcessedWebhook,
    ServiceView,
    UpstreamBooking,
    WebhookDelivery,
)
from harness.checks.verdict import KINDS, Verdict, Violation
from harness.history import History, paused_gc

Checker = Callable[[Facts], Verdict]

#: Every checker by name, in report order.
CHECKERS: dict[str, Checker] = {
    host_slots.NAME: host_slots.check,
    local_slots.NAME: local_slots.check,
    booking_uids.NAME: booking_uids.check,
    stolen.NAME: stolen.check,
    lost.NAME: lost.check,
    phantom.NAME: phantom.check,
    webhooks.NAME: webhooks.check,
    tenants.NAME: tenants.check,
    drift.NAME: drift.check,
    told.NAME: told.check,
    one_upstream.NAME: one_upstream.check,
    answers.NAME: answers.check,
}


def run_all(history: History | None, service: ServiceView | None, truth: GroundTruth | None,
            *, only: Iterable[str] | None = None,
            options: CheckOptions | None = None) -> list[Verdict]:
    """Run the checkers (all, or the names in ``only``) and return their verdicts in order."""
    names = list(CHECKERS) if only is None else list(only)
    unknown = [n for n in names if n not in CHECKERS]
    if unknown:
        raise ValueError(f"unknown checker(s) {unknown}; known: {list(CHECKERS)}")
    facts = Facts(history, service, truth, options)
    with paused_gc():  # the indexes are millions of small acyclic containers for a long run
        return [CHECKERS[name](facts) for name in names]


def run(name: str, history: History | None, service: ServiceView | None,
        truth: GroundTruth | None, options: CheckOptions | None = None) -> Verdict:
    """Run one checker by name."""
    return run_all(history, service, truth, only=[name], options=options)[0]


def all_ok(verdicts: Iterable[Verdict]) -> bool:
    return all(v.ok for v in verdicts)


def assert_ok(verdicts: Iterable[Verdict]) -> None:
    """Fail a test with every violated verdict and its evidence (for scenarios)."""
    failed = [v for v in verdicts if not v.ok]
    if failed:
        raise AssertionError("invariants violated:\n" + "\n".join(str(v) for v in failed))


__all__ = [
    "CHECKERS", "KINDS", "Appointment", "AuditEntry", "CheckOptions", "Facts", "GroundTruth",
    "InputError", "ProcessedWebhook", "ServiceView", "UpstreamBooking", "Verdict", "Violation",
    "WebhookDelivery", "all_ok", "assert_ok", "run", "run_all",
]
