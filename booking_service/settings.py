"""Configuration of the booking service: connection details, policy knobs and the defenses.

`Settings` is what `create_app` takes; the CLI builds one from flags and environment variables.
`Defenses` (from `booking_service.defenses`, importable here too) switches each
duplicate-prevention layer of docs/contracts.md §2.2 by its stable name.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from booking_service.clock import Clock, RealClock
from booking_service.defenses import DEFENSE_NAMES, Defenses

__all__ = ["DEFENSE_NAMES", "Defenses", "Failpoint", "Settings"]

Failpoint = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Settings:
    """Everything the service needs; defaults run a local demo against the fake Cal.com.

    `retry_attempts` counts retries after the first attempt (3 → at most 4 calls per operation).
    Policy waits use `clock`; `random_seed` makes the backoff jitter reproducible.
    """

    database_url: str = "sqlite:///booking.db"
    calcom_base_url: str = "http://127.0.0.1:8787"  # the fake's default port
    calcom_api_key: str = "cal_live_calharness_anna"
    webhook_secret: str = "whsec_calharness"
    defenses: Defenses = field(default_factory=Defenses)
    freshness_seconds: float = 30.0
    # How far Cal.com's clock may lag ours before "created before we asked" counts (freshness).
    clock_skew_s: float = 1.0
    calcom_timeout_s: float = 10.0
    retry_attempts: int = 3
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0
    max_rate_limit_wait_s: float = 65.0
    circuit_failure_threshold: int = 5
    circuit_open_s: float = 30.0
    clock: Clock | None = None
    failpoints: Mapping[str, Failpoint] | None = None
    # Beyond the contract's list: optional knobs with safe defaults.
    tenants: Mapping[str, Any] | str | Path | None = None  # None = the demo tenants (§2.6)
    migrate_on_startup: bool = True
    timezone: str = "Europe/Berlin"
    random_seed: int | None = None
    slot_lock_timeout_s: float = 30.0
    slot_lock_connections: int = 20  # per process: slots being booked at the same moment
    # How long a phone caller may wait, in total per request, for Cal.com rate-limit windows
    # (`max_rate_limit_wait_s` still bounds it; batch work such as reconciliation uses that).
    caller_rate_limit_wait_s: float = 5.0
    alternatives_days: int = 7
    max_alternatives: int = 3
    calcom_list_page_size: int = 100
    db_pool_size: int = 20
    db_pool_timeout_s: float = 30.0  # waiting for a pooled connection; then a clear answer
    # One round trip to MySQL/MariaDB: connecting (TCP + handshake), then each answer. A paused
    # or vanished database ends a request within these (database_unavailable), not never.
    db_connect_timeout_s: float = 5.0
    db_read_timeout_s: float = 10.0
    db_echo: bool = False
    # The test-control protocol (booking_service/test_control): off unless a token is set.
    test_control_token: str | None = None

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = RealClock()
        if isinstance(self.defenses, str | list | tuple | set):
            self.defenses = Defenses.with_off(self.defenses)
        numbers = {
            "freshness_seconds": self.freshness_seconds,
            "clock_skew_s": self.clock_skew_s,
            "calcom_timeout_s": self.calcom_timeout_s,
            "backoff_base_s": self.backoff_base_s,
            "backoff_cap_s": self.backoff_cap_s,
            "max_rate_limit_wait_s": self.max_rate_limit_wait_s,
            "circuit_open_s": self.circuit_open_s,
            "slot_lock_timeout_s": self.slot_lock_timeout_s,
            "caller_rate_limit_wait_s": self.caller_rate_limit_wait_s,
            "db_pool_timeout_s": self.db_pool_timeout_s,
        }
        for name, value in (("db_connect_timeout_s", self.db_connect_timeout_s),
                            ("db_read_timeout_s", self.db_read_timeout_s)):
            if value <= 0:
                raise ValueError(f"{name} must be positive (got {value})")
        for name, value in numbers.items():
            if value < 0:
                raise ValueError(f"{name} must not be negative (got {value})")
        if self.calcom_timeout_s == 0:
            raise ValueError("calcom_timeout_s must be positive")
        if self.retry_attempts < 0:
            raise ValueError("retry_attempts must not be negative")
        if self.circuit_failure_threshold < 1:
            raise ValueError("circuit_failure_threshold must be at least 1")
        if self.slot_lock_connections < 1:
            raise ValueError("slot_lock_connections must be at least 1")

    @property
    def the_clock(self) -> Clock:
        assert self.clock is not None
        return self.clock

    def rng(self) -> random.Random:
        """The jitter source: seeded when `random_seed` is set, so backoff waits repeat exactly."""
        return random.Random(self.random_seed)
