"""Waiting-time distributions for callers (talk time, picking an alternative, pause between calls).

Written as short specs so they fit on a command line and in a profile JSON:

    fixed:14            always 14 s
    uniform:8:20        between 8 and 20 s
    lognormal:14:0.3    median 14 s, sigma 0.3 (a long right tail, as human pauses have)
    exponential:14      mean 14 s

Draws come from the caller's own seeded ``random.Random``, so a run's talk times repeat.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

KINDS: dict[str, int] = {"fixed": 1, "uniform": 2, "lognormal": 2, "exponential": 1}


class DistributionError(ValueError):
    """A distribution spec that cannot be understood (the message says how to write one)."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """Seconds drawn from one of :data:`KINDS`; ``params`` as in the spec."""

    kind: str
    params: tuple[float, ...]

    @classmethod
    def parse(cls, spec: str | float | int) -> Distribution:
        """``"lognormal:14:0.3"`` → Distribution; a bare number means ``fixed``."""
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            return cls.fixed(float(spec))
        if not isinstance(spec, str) or not spec.strip():
            raise DistributionError(f"expected a distribution spec such as 'lognormal:14:0.3', "
                                    f"got {spec!r}")
        head, *rest = spec.strip().split(":")
        kind = head.strip().lower()
        if not rest:
            try:
                return cls.fixed(float(kind))
            except ValueError:
                pass
        if kind not in KINDS:
            raise DistributionError(f"unknown distribution {head!r} in {spec!r}; use one of "
                                    + ", ".join(f"{k}:{_params_hint(k)}" for k in KINDS))
        if len(rest) != KINDS[kind]:
            raise DistributionError(f"{kind} takes {KINDS[kind]} parameter(s) "
                                    f"({kind}:{_params_hint(kind)}), got {spec!r}")
        try:
            params = tuple(float(p) for p in rest)
        except ValueError:
            raise DistributionError(f"parameters of {spec!r} must be numbers") from None
        return cls(kind, params).validated(spec)

    @classmethod
    def fixed(cls, seconds: float) -> Distribution:
        return cls("fixed", (float(seconds),)).validated(str(seconds))

    def validated(self, spec: str) -> Distribution:
        if any(not math.isfinite(p) or p < 0 for p in self.params):
            raise DistributionError(f"parameters of {spec!r} must be finite and not negative")
        if self.kind == "uniform" and self.params[1] < self.params[0]:
            raise DistributionError(f"uniform:MIN:MAX needs MIN <= MAX, got {spec!r}")
        return self

    def draw(self, rng: random.Random) -> float:
        p = self.params
        if self.kind == "fixed":
            return p[0]
        if self.kind == "uniform":
            return rng.uniform(p[0], p[1])
        if self.kind == "lognormal":
            return p[0] * math.exp(rng.gauss(0.0, p[1])) if p[0] else 0.0
        return rng.expovariate(1.0 / p[0]) if p[0] else 0.0

    def scaled(self, factor: float) -> Distribution:
        """The same shape with every duration multiplied by ``factor`` (sigma is unitless)."""
        p = self.params
        if self.kind == "lognormal":
            return Distribution("lognormal", (p[0] * factor, p[1]))
        return Distribution(self.kind, tuple(x * factor for x in p))

    @property
    def median(self) -> float:
        p = self.params
        if self.kind in ("fixed", "lognormal"):
            return p[0]
        if self.kind == "uniform":
            return (p[0] + p[1]) / 2
        return p[0] * math.log(2)

    def spec(self) -> str:
        return ":".join([self.kind, *(f"{x:g}" for x in self.params)])

    def __str__(self) -> str:
        return self.spec()


def _params_hint(kind: str) -> str:
    return {"fixed": "S", "uniform": "MIN:MAX", "lognormal": "MEDIAN:SIGMA",
            "exponential": "MEAN"}[kind]
