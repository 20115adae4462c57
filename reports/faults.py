"""Fault coverage: which of the fake Cal.com's faults the run injected, where, and how often.

Each scenario records what it armed at the fake and how often each fault fired (the CLI reads it
from the JUnit XML and hands it over as :class:`FaultInjection` rows, with the fault kinds the
fake supports). The report folds them into a matrix — endpoint × fault kind for the HTTP faults,
webhook event × kind for webhook chaos — and lists as *gaps* the kinds no scenario injected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class FaultInjection:
    """One fault armed in one scenario (a scenario that arms the same fault twice has two)."""

    scenario: str                        # node id
    name: str
    kind: str                            # the action kind: status, stale_replay, webhook_drop…
    endpoint: str                        # "POST /v2/bookings", or "webhook BOOKING_CREATED"
    trigger: str = "always"              # always · first 2 · nth 3 · p 0.3
    detail: str = ""                     # e.g. "503 after" for a status fault
    matched: int | None = None           # None: not known (cleared before it was read)
    fired: int | None = None

    @property
    def webhook(self) -> bool:
        return self.endpoint.startswith("webhook")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultInjection:
        return cls(scenario=data["scenario"], name=data["name"], kind=data["kind"],
                   endpoint=data["endpoint"], trigger=data.get("trigger", "always"),
                   detail=data.get("detail", ""), matched=data.get("matched"),
                   fired=data.get("fired"))


@dataclass(slots=True)
class FaultCell:
    """Everything injected at one endpoint with one kind (and the triggers it came with)."""

    endpoint: str
    kind: str
    injections: list[FaultInjection] = field(default_factory=list)

    @property
    def armed(self) -> int:
        return len(self.injections)

    @property
    def fired(self) -> int:
        return sum(i.fired or 0 for i in self.injections)

    @property
    def fired_unknown(self) -> int:
        return sum(1 for i in self.injections if i.fired is None)

    @property
    def triggers(self) -> list[str]:
        return sorted({i.trigger for i in self.injections})

    @property
    def details(self) -> list[str]:
        return sorted({i.detail for i in self.injections if i.detail})

    @property
    def scenarios(self) -> list[str]:
        return list(dict.fromkeys(i.scenario for i in self.injections))


@dataclass(slots=True)
class FaultCoverage:
    """The run's injections, and what the fake could have injected."""

    injections: list[FaultInjection] = field(default_factory=list)
    http_kinds: list[str] = field(default_factory=list)      # the fake's HTTP fault kinds
    webhook_kinds: list[str] = field(default_factory=list)   # and its webhook fault kinds
    endpoints: list[str] = field(default_factory=list)       # rows shown even when nothing hit them
    recorded: int = 0                    # scenarios that recorded their faults (armed or not)
    notes: list[str] = field(default_factory=list)

    def _rows(self, webhook: bool) -> list[FaultInjection]:
        return [i for i in self.injections if i.webhook == webhook]

    def matrix(self, webhook: bool = False) -> dict[str, dict[str, FaultCell]]:
        """endpoint (or webhook event) → kind → cell; every known endpoint has a row."""
        kinds = self.webhook_kinds if webhook else self.http_kinds
        rows = self._rows(webhook)
        endpoints = list(dict.fromkeys(
            ([] if webhook else self.endpoints) + sorted({i.endpoint for i in rows})))
        table: dict[str, dict[str, FaultCell]] = {}
        for endpoint in endpoints:
            table[endpoint] = {k: FaultCell(endpoint, k) for k in kinds}
        for i in rows:
            row = table.setdefault(i.endpoint, {k: FaultCell(i.endpoint, k) for k in kinds})
            row.setdefault(i.kind, FaultCell(i.endpoint, i.kind)).injections.append(i)
        return table

    def columns(self, webhook: bool = False) -> list[str]:
        """The kinds, supported ones first, then any the fake's list did not name."""
        kinds = list(self.webhook_kinds if webhook else self.http_kinds)
        return kinds + sorted({i.kind for i in self._rows(webhook)} - set(kinds))

    def cells(self, webhook: bool = False) -> list[FaultCell]:
        """The cells something was injected into, by endpoint then kind."""
        return [cell for row in self.matrix(webhook).values() for cell in row.values()
                if cell.injections]

    def gaps(self, webhook: bool = False) -> list[str]:
        """Kinds the fake supports that no scenario injected anywhere."""
        used = {i.kind for i in self._rows(webhook)}
        return [k for k in (self.webhook_kinds if webhook else self.http_kinds) if k not in used]

    def never_fired(self, webhook: bool = False) -> list[FaultCell]:
        """Cells armed in the run whose faults never fired (known counts only)."""
        return [c for c in self.cells(webhook) if c.fired == 0 and not c.fired_unknown]

    def to_json(self) -> dict[str, Any]:
        return {"injections": [i.to_json() for i in self.injections],
                "http_kinds": self.http_kinds, "webhook_kinds": self.webhook_kinds,
                "endpoints": self.endpoints, "recorded": self.recorded, "notes": self.notes,
                "gaps": {"http": self.gaps(), "webhook": self.gaps(webhook=True)},
                "matrix": [{"endpoint": c.endpoint, "kind": c.kind, "armed": c.armed,
                            "fired": c.fired, "fired_unknown": c.fired_unknown,
                            "triggers": c.triggers, "scenarios": c.scenarios}
                           for c in self.cells() + self.cells(webhook=True)]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultCoverage:
        return cls(injections=[FaultInjection.from_json(i) for i in data.get("injections", [])],
                   http_kinds=list(data.get("http_kinds", [])),
                   webhook_kinds=list(data.get("webhook_kinds", [])),
                   endpoints=list(data.get("endpoints", [])),
                   recorded=int(data.get("recorded", 0)), notes=list(data.get("notes", [])))
