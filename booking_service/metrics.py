"""Prometheus metrics (the counters the monitoring roadmap in seeds/002 asks for).

Each app owns its own `CollectorRegistry`, so several services can live in one process (the
embedded harness, tests). Label values come from fixed vocabularies only: never a name, phone
number, e-mail address, call id or booking uid.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CIRCUIT_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}
WEBHOOK_EVENTS = frozenset(
    {
        "BOOKING_CREATED",
        "BOOKING_REQUESTED",
        "BOOKING_CANCELLED",
        "BOOKING_RESCHEDULED",
        "BOOKING_REJECTED",
    }
)
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The service's metrics, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.bookings = Counter(
            "booking_service_bookings",
            "Booking requests by outcome (the answer's status)",
            ["outcome"],
            registry=r,
        )
        self.rejections = Counter(
            "booking_service_duplicate_prevention_rejections",
            "Answers refused or redirected by a duplicate-prevention layer",
            ["layer", "reason"],
            registry=r,
        )
        self.booking_age = Histogram(
            "booking_service_calcom_booking_age_seconds",
            "Age (now - createdAt) of bookings Cal.com returned for a create",
            buckets=(1, 5, 10, 30, 60, 300, 600, 1800, 3600, 86400),
            registry=r,
        )
        self.missing_created_at = Counter(
            "booking_service_calcom_booking_missing_created_at",
            "Bookings Cal.com returned without createdAt (accepted by the freshness layer)",
            registry=r,
        )
        self.calcom_latency = Histogram(
            "booking_service_calcom_request_duration_seconds",
            "Cal.com API call latency by endpoint and outcome",
            ["endpoint", "outcome"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.calcom_retries = Counter(
            "booking_service_calcom_retries",
            "Cal.com calls retried, by endpoint and reason",
            ["endpoint", "reason"],
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "booking_service_calcom_rate_limit_waits",
            "Waits for a Cal.com rate-limit window",
            registry=r,
        )
        self.rate_limit_wait_seconds = Counter(
            "booking_service_calcom_rate_limit_wait_seconds",
            "Seconds spent waiting for rate-limit windows",
            registry=r,
        )
        self.circuit_state = Gauge(
            "booking_service_calcom_circuit_state",
            "Cal.com circuit breaker: 0 closed, 1 half-open, 2 open",
            registry=r,
        )
        self.circuit_transitions = Counter(
            "booking_service_calcom_circuit_transitions",
            "Circuit breaker state changes",
            ["to"],
            registry=r,
        )
        self.ambiguous_creates = Counter(
            "booking_service_calcom_ambiguous_outcomes",
            "Writes whose outcome was unknown, by how they were resolved",
            ["operation", "resolution"],
            registry=r,
        )
        self.webhooks = Counter(
            "booking_service_webhooks",
            "Cal.com webhook deliveries by event and result",
            ["event", "result"],
            registry=r,
        )
        self.reconcile_findings = Counter(
            "booking_service_reconcile_findings",
            "Reconciliation findings by kind",
            ["kind"],
            registry=r,
        )
        self.slot_lock_wait = Histogram(
            "booking_service_slot_lock_wait_seconds",
            "Time spent waiting for a per-slot lock",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
            registry=r,
        )
        self.circuit_state.set(0)

    def webhook_event_label(self, event: object) -> str:
        return event if isinstance(event, str) and event in WEBHOOK_EVENTS else "other"

    def set_circuit_state(self, state: str) -> None:
        self.circuit_state.set(CIRCUIT_STATE_VALUES[state])
        self.circuit_transitions.labels(to=state).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
