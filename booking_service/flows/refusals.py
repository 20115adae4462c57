"""Why a voice flow stops early: a `Refusal` (an answer with a status, never an HTTP error), and
the refusals Cal.com's failures and an exhausted database pool become.

Imports nothing that imports the service context (`booking_service.defenses` builds on this
module, and the settings import the defenses).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from booking_service.calcom.errors import (
    CalcomError,
    CalcomRequestError,
    CalcomTimeout,
    CalcomUnavailable,
    CircuitOpenError,
    RateLimitedError,
)

log = logging.getLogger(__name__)


class Refusal(Exception):
    """Stop a flow and answer with `status`/`reason` (never an HTTP error)."""

    def __init__(
        self,
        status: str,
        reason: str | None = None,
        *,
        start: datetime | None = None,
        alternatives: Sequence[datetime] = (),
        field: str | None = None,
        services: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} ({reason})")
        self.status = status
        self.reason = reason
        self.start = start
        self.alternatives = list(alternatives)
        self.field = field
        self.services = list(services)
        self.extra = extra or {}


class OutcomeUnknown(Exception):
    """A write failed ambiguously and could not be resolved: Cal.com may or may not have done it."""

    def __init__(self, cause: CalcomError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def calcom_refusal(
    exc: CalcomError | OutcomeUnknown, *, start: datetime | None = None, read: bool = False
) -> Refusal:
    """The caller's answer to a failed Cal.com call. A read that timed out wrote nothing: that
    is a definite "not now" (`upstream_unavailable`), never the unknown outcome `timeout`."""
    if isinstance(exc, OutcomeUnknown):
        status = "timeout" if isinstance(exc.cause, CalcomTimeout) else "upstream_unavailable"
        return Refusal(status, "outcome_unknown", start=start)
    if isinstance(exc, CircuitOpenError):
        return Refusal("circuit_open", "circuit_open", start=start)
    if isinstance(exc, RateLimitedError):
        return Refusal("rate_limited", "calcom_rate_limit", start=start)
    if isinstance(exc, CalcomTimeout):
        return Refusal("upstream_unavailable" if read else "timeout", "calcom_timeout", start=start)
    if isinstance(exc, CalcomUnavailable):
        return Refusal("upstream_unavailable", exc.kind, start=start)
    if isinstance(exc, CalcomRequestError):
        if exc.booking_conflict:
            return Refusal("race_condition_detected", "booking_conflict_error", start=start)
        if exc.slot_unavailable:
            return Refusal("slot_taken", "host_busy", start=start)
        if exc.in_the_past:
            return Refusal("past_date", "in_the_past", start=start)
        if exc.out_of_bounds:
            return Refusal("slot_taken", "outside_booking_window", start=start)
        if exc.status == 404:
            return Refusal("unknown_service", "event_type_not_found", start=start)
        log.warning("Cal.com refused a request: %s", exc)
        return Refusal("error", "calcom_rejected", start=start)
    return Refusal("error", "calcom_error", start=start)


def database_busy(start: datetime | None = None) -> Refusal:
    """No pooled database connection came within `db_pool_timeout_s`, and nothing was done."""
    log.warning("database busy: no pooled connection in time; the caller is asked to try again")
    return Refusal("rate_limited", "database_busy", start=start)


def database_unavailable(exc: BaseException | None = None) -> Refusal:
    """The database refused, vanished or did not answer within its timeouts, before anything was
    done: the agent says the booking system is unreachable and to call again in a few minutes.
    One line, no traceback: an outage would otherwise log one per request."""
    cause = getattr(exc, "orig", None) or exc
    log.warning("database unavailable: %s", str(cause).splitlines()[0] if cause else "unknown")
    return Refusal("upstream_unavailable", "database_unavailable")


def unrecorded_change(start: datetime | None) -> Refusal:
    """Cal.com made the change, but no database connection came to record it.

    The caller hears that something went wrong (they may ask again, which finds the change made
    upstream); Cal.com's webhook, or reconciliation, brings the local record in line.
    """
    log.error("Cal.com changed a booking but no database connection came to record it")
    return Refusal("error", "database_busy", start=start)
