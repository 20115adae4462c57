"""The twelve duplicate-prevention defenses (docs/contracts.md §2.2): their switches, and each
defense as the function that applies it.

`Defenses` says which are on (all by default); a flow asks `ctx.defenses.<name>` through the
functions here, never on its own, so switching one off by name (`Defenses().without(name)`,
`--defense-off`, `BOOKING_DEFENSES_OFF`) removes exactly that layer and nothing else. The
ablation relies on it: each defense has a scenario that fails when it alone is off (§2.8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

#: Stable defense names, in the order of the contract table (harness, ablation and reports use them).
DEFENSE_NAMES: tuple[str, ...] = (
    "freshness",
    "call_id_match",
    "attendee_match",
    "uid_duplicate_check",
    "unique_constraint",
    "availability_double_check",
    "slot_lock",
    "ambiguous_create_lookup",
    "webhook_signature",
    "webhook_dedupe",
    "webhook_ordering",
    "tenant_isolation",
)


@dataclass(frozen=True)
class Defenses:
    """Which defenses are on. All on by default; switch one off to prove a test catches its absence."""

    freshness: bool = True
    call_id_match: bool = True
    attendee_match: bool = True
    uid_duplicate_check: bool = True
    unique_constraint: bool = True
    availability_double_check: bool = True
    slot_lock: bool = True
    ambiguous_create_lookup: bool = True
    webhook_signature: bool = True
    webhook_dedupe: bool = True
    webhook_ordering: bool = True
    tenant_isolation: bool = True

    @classmethod
    def with_off(cls, names: Iterable[str] | str | None) -> Defenses:
        """All on except `names` (an iterable, or a comma-separated string as on the command line)."""
        if names is None:
            return cls()
        if isinstance(names, str):
            names = [n for n in (part.strip() for part in names.split(",")) if n]
        off = list(names)
        unknown = sorted(set(off) - set(DEFENSE_NAMES))
        if unknown:
            raise ValueError(
                f"unknown defense name(s): {', '.join(unknown)}; known: {', '.join(DEFENSE_NAMES)}"
            )
        return cls(**{name: False for name in off})

    @classmethod
    def all_off(cls) -> Defenses:
        return cls(**{name: False for name in DEFENSE_NAMES})

    def without(self, *names: str) -> Defenses:
        """A copy with `names` switched off as well."""
        Defenses.with_off(names)  # validates the names
        return replace(self, **{name: False for name in names})

    def is_on(self, name: str) -> bool:
        if name not in DEFENSE_NAMES:
            raise ValueError(f"unknown defense name: {name}")
        return bool(getattr(self, name))

    @property
    def off(self) -> list[str]:
        return [f.name for f in fields(self) if not getattr(self, f.name)]

    def as_dict(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in DEFENSE_NAMES}
