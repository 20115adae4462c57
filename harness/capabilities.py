"""Capabilities: what a target lets a scenario do, and what a scenario needs.

A scenario declares what it needs (``@pytest.mark.needs("faults", "clock")``); a target offers
some, negotiated when a run starts: the fake Cal.com's control plane unlocks the upstream ones,
the service's test-control protocol (docs/contracts.md §4) the service ones, and the adapter says
which operations the service's API has. A scenario whose need is missing is skipped, and the
report says which capability it lacked. A World method used without its capability raises
:class:`MissingCapability`, which skips the scenario the same way (a forgotten declaration
cannot turn into a wrong verdict).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Every capability, with what it means (the report and `--help` show these lines).
CAPABILITIES: dict[str, str] = {
    # upstream: from the fake Cal.com's control plane ([calcom] control_url)
    "faults": "arm faults on Cal.com's requests and webhooks, and its rate limiter (a fake Cal.com, allow_faults)",
    "outside_changes": "book, cancel and reschedule in Cal.com directly, as the front desk does (a fake Cal.com, allow_faults)",
    "webhook_control": "hold Cal.com's webhook deliveries and flush them on cue (a fake Cal.com, allow_faults)",
    "ground_truth": "read every booking Cal.com holds (a fake's state, or the real API read-only)",
    "calcom_journal": "see which requests reached Cal.com (a fake Cal.com)",
    # the service: from the test-control protocol ([test_control])
    "reset": "a clean slate between scenarios: the service wiped and the fake restored",
    "defenses": "switch the service's defenses (ablation)",
    "clock": "one virtual clock for the service and Cal.com: freeze and move time",
    "failpoints": "barriers, crashes and hooks at named points inside the service",
    "service_state": "everything the service believes: appointments of every tenant, audit log, processed webhooks",
    "service_settings": "the service's policy knobs (Cal.com timeout, caller rate-limit wait, slot-lock timeout)",
    "service_logs": "the service's log lines",
    "replica": "a second instance of the service on the same database",
    "mariadb": "the service runs on MariaDB/MySQL (races are real)",
    # the service's API: from its adapter
    "check": "ask whether a slot is free",
    "book": "book a slot for a caller",
    "cancel": "cancel a caller's booking",
    "reschedule": "move a caller's booking",
    "appointments": "list a tenant's appointments (what the service's API shows)",
    "voice_api": "the reference's Retell-style voice API with its exact statuses and raw arguments",
    "tenant_reads": "the tenant-scoped read API (appointments, one appointment, customers)",
    "webhooks": "the service receives Cal.com webhooks, and the harness knows their secret",
    "webhook_secret": "the harness knows the service's webhook secret and signs its own deliveries",
    "reconcile": "ask the service to reconcile with Cal.com",
    "holds": "the service holds a slot it offered while the caller decides (Cal.com slot reservations)",
    "second_tenant": "a second tenant (tenant isolation)",
}

UPSTREAM = frozenset({"faults", "outside_changes", "webhook_control", "ground_truth",
                      "calcom_journal"})
SERVICE_CONTROL = frozenset({"reset", "defenses", "clock", "failpoints", "service_state",
                             "service_settings", "service_logs", "replica"})


class MissingCapability(Exception):
    """A scenario asked for something this target does not offer (it is skipped, not failed)."""

    def __init__(self, *names: str) -> None:
        self.names = tuple(names)
        super().__init__(skip_reason(self.names))


def unknown(names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if n not in CAPABILITIES)


def skip_reason(missing: Iterable[str]) -> str:
    """The one form the report parses: ``missing capability: a, b``."""
    return "missing capability: " + ", ".join(sorted(missing))


def parse_skip_reason(reason: str) -> list[str]:
    """The capabilities a skip reason names (empty when it is another kind of skip)."""
    marker = "missing capability: "
    at = reason.find(marker)
    if at < 0:
        return []
    rest = reason[at + len(marker):].split(" (")[0].split("\n")[0]
    return [name.strip() for name in rest.split(",") if name.strip() in CAPABILITIES]
