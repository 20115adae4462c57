"""What callers ask for: which service, which day, which time — with popular times, so that many
callers want the same slots at the same moment (the contention the defenses exist for).

A caller asks for a working day ``1..horizon_days`` ahead (tomorrow most often: each later day is
``day_decay`` times as wanted) and a start within opening hours, weighted by the hour's popularity
(mid-morning and early afternoon); a start that is not on the full hour ("halb elf") gets
``off_hour_factor`` of its hour's weight. Starts step by the service's length from opening time,
as Cal.com's slots do. Every choice comes from the caller's seeded ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from harness.slots import BERLIN, Slot, next_workday, slot_on

#: How much each hour is wanted (an hour not listed is not asked for).
DEFAULT_HOUR_WEIGHTS: dict[int, float] = {9: 1.0, 10: 2.0, 11: 1.6, 12: 0.7, 13: 0.8, 14: 1.8,
                                          15: 1.3, 16: 0.8}
#: How likely a caller takes the 1st, 2nd, 3rd… alternative offered (they mostly take the first).
ALTERNATIVE_WEIGHTS: tuple[float, ...] = (0.6, 0.25, 0.15)


@dataclass(frozen=True)
class ServiceDemand:
    """A service callers ask for (its spoken name, as the tenant configures it)."""

    name: str
    weight: float = 1.0
    minutes: int = 30

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, "minutes": self.minutes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceDemand:
        return cls(name=str(data["name"]), weight=float(data.get("weight", 1.0)),
                   minutes=int(data.get("minutes", 30)))


@dataclass(frozen=True)
class Demand:
    services: tuple[ServiceDemand, ...] = (ServiceDemand("Beratung", 1.0, 30),)
    horizon_days: int = 10
    day_decay: float = 0.75
    opening_hour: int = 9
    closing_hour: int = 17
    hour_weights: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_HOUR_WEIGHTS))
    off_hour_factor: float = 0.5
    to_number: str | None = None  # the practice's phone number callers dial (tenant routing)

    def __post_init__(self) -> None:
        if not self.services or any(s.weight < 0 or s.minutes < 5 for s in self.services):
            raise ValueError("demand needs at least one service with weight >= 0 and minutes >= 5")
        if sum(s.weight for s in self.services) <= 0:
            raise ValueError("the service weights must not all be zero")
        if self.horizon_days < 1 or not 0 < self.day_decay <= 1:
            raise ValueError("horizon_days must be >= 1 and day_decay in (0, 1]")
        if not 0 <= self.opening_hour < self.closing_hour <= 24:
            raise ValueError("opening_hour must be before closing_hour (0..24)")

    # -- choosing ------------------------------------------------------------------------------

    def starts(self, day: date, service: ServiceDemand) -> list[tuple[Slot, float]]:
        """Every start of ``service`` on ``day`` with how much callers want it (weight > 0)."""
        out: list[tuple[Slot, float]] = []
        minute = self.opening_hour * 60
        while minute + service.minutes <= self.closing_hour * 60:
            hour, rest = divmod(minute, 60)
            weight = self.hour_weights.get(hour, 0.0)
            if rest:
                weight *= self.off_hour_factor
            if weight > 0:
                out.append((slot_on(day, hour, rest), weight))
            minute += service.minutes
        return out

    def wanted(self, today: date, service: ServiceDemand) -> tuple[list[Slot], list[float]]:
        """All starts a caller of ``service`` may ask for from ``today``, with their weights."""
        slots: list[Slot] = []
        weights: list[float] = []
        for ahead in range(1, self.horizon_days + 1):
            day = next_workday(today, ahead)
            day_weight = self.day_decay ** (ahead - 1)
            for slot, weight in self.starts(day, service):
                slots.append(slot)
                weights.append(weight * day_weight)
        if not slots:
            raise ValueError(f"no start of {service.name} is wanted: check hour_weights and "
                             f"opening hours")
        return slots, weights

    def pick(self, rng: random.Random, now: datetime | None = None) -> tuple[ServiceDemand, Slot]:
        """A service and a start, as one caller asks for them."""
        today = (now or datetime.now(BERLIN)).astimezone(BERLIN).date()
        service = rng.choices(self.services, weights=[s.weight for s in self.services])[0]
        slots, weights = _cached_wanted(self, today, service)
        return service, rng.choices(slots, weights=weights)[0]

    # -- JSON ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"services": [s.to_json() for s in self.services],
                "horizon_days": self.horizon_days, "day_decay": self.day_decay,
                "opening_hour": self.opening_hour, "closing_hour": self.closing_hour,
                "hour_weights": {str(h): w for h, w in sorted(self.hour_weights.items())},
                "off_hour_factor": self.off_hour_factor, "to_number": self.to_number}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Demand:
        base = cls()
        return cls(
            services=tuple(ServiceDemand.from_json(s) for s in data.get("services", []))
            or base.services,
            horizon_days=int(data.get("horizon_days", base.horizon_days)),
            day_decay=float(data.get("day_decay", base.day_decay)),
            opening_hour=int(data.get("opening_hour", base.opening_hour)),
            closing_hour=int(data.get("closing_hour", base.closing_hour)),
            hour_weights={int(h): float(w) for h, w in
                          (data.get("hour_weights") or base.hour_weights).items()},
            off_hour_factor=float(data.get("off_hour_factor", base.off_hour_factor)),
            to_number=data.get("to_number"),
        )

    def __hash__(self) -> int:  # hour_weights is a dict: hash the JSON form instead
        return hash(repr(self.to_json()))


_WANTED_CACHE: dict[tuple[int, date, str], tuple[list[Slot], list[float]]] = {}


def _cached_wanted(demand: Demand, today: date,
                   service: ServiceDemand) -> tuple[list[Slot], list[float]]:
    key = (hash(demand), today, service.name)
    found = _WANTED_CACHE.get(key)
    if found is None:
        found = _WANTED_CACHE[key] = demand.wanted(today, service)
    return found


def choose_alternative(rng: random.Random, offered: Sequence[Slot],
                       tried: set[str]) -> Slot | None:
    """The alternative a caller takes from those offered (the first most often), never one they
    already tried; ``None`` when nothing new was offered."""
    fresh = [s for s in offered if s.start not in tried]
    if not fresh:
        return None
    weights = [ALTERNATIVE_WEIGHTS[i] if i < len(ALTERNATIVE_WEIGHTS) else ALTERNATIVE_WEIGHTS[-1]
               for i in range(len(fresh))]
    return rng.choices(fresh, weights=weights)[0]


def slot_from_answer(item: Any) -> Slot | None:
    """An alternative from a service answer (``{"start": "…Z", "datum", "uhrzeit"}``)."""
    if not isinstance(item, dict) or not isinstance(item.get("start"), str):
        return None
    try:
        start = datetime.fromisoformat(item["start"].replace("Z", "+00:00"))
    except ValueError:
        return None
    if start.tzinfo is None:
        return None
    return Slot(start.astimezone(BERLIN))
