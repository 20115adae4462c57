"""What the service is started with (the CLI builds it; tests build it directly)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

Mode = Literal["naive", "careful"]
MODES: tuple[Mode, ...] = ("naive", "careful")

#: The services of the fake Cal.com's default seed data (docs/contracts.md §1.2).
DEFAULT_SERVICES: Mapping[str, int] = {"Beratung": 2001, "Haarschnitt": 2002, "Teamtermin": 2004}


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    calcom_url: str
    calcom_api_key: str
    database: str = "sqlite:///rest_booking.db"
    mode: Mode = "naive"
    #: service name as callers say it → Cal.com event type id
    services: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVICES))
    #: further hosts' keys, only to list bookings (Cal.com lists a key owner's bookings only)
    calcom_read_api_keys: tuple[str, ...] = ()
    calcom_timeout_s: float = 10.0
    #: creates sent per booking request (the first plus retries after no answer or a 5xx)
    create_attempts: int = 3
    #: careful mode: reads sent per question (the first plus retries after no answer or a 5xx);
    #: naive gives up on the first failure
    read_attempts: int = 3
    #: the attendee time zone Cal.com is told (times in this API are UTC either way)
    time_zone: str = "Europe/Berlin"
    #: careful mode compares Cal.com's createdAt with this clock: give it Cal.com's time line
    clock: Clock = field(default_factory=SystemClock)
    #: careful mode only: hold a slot at Cal.com for the caller whose availability check
    #: found it free (slot reservations), so nobody else books it while they decide
    hold: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.create_attempts < 1 or self.read_attempts < 1:
            raise ValueError("create_attempts and read_attempts must be at least 1")
        if not self.services:
            raise ValueError("at least one service is needed")
        if self.hold and self.mode != "careful":
            raise ValueError("hold needs the careful mode")
