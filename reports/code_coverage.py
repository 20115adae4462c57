"""Code coverage of the system under test, as the report shows it: one row per module.

The CLI measures (coverage.py, line and branch, in every process that ran the service), decides
each module's tier and target, and hands the figures over as :class:`CodeCoverage`; nothing here
knows coverage.py. A row *meets* its target when both its line and its branch share reach it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Tiers in the order the report lists them.
TIERS: tuple[str, ...] = ("critical", "supporting", "untargeted")


def _pct(covered: int, total: int) -> float | None:
    return None if total == 0 else 100.0 * covered / total


@dataclass(slots=True)
class ModuleCoverage:
    """One module: what ran of it, and what it was asked to reach."""

    module: str                          # a path from the repository root, e.g. booking_service/db.py
    tier: str = "supporting"             # critical | supporting | untargeted
    target: float | None = 80.0          # percent, for lines and branches alike; None: no target
    why: str = ""                        # why the module is in its tier
    statements: int = 0
    covered_lines: int = 0
    branches: int = 0
    covered_branches: int = 0
    missing_lines: list[int] = field(default_factory=list)
    missing_branches: list[list[int]] = field(default_factory=list)  # [from line, to line]
    html: str | None = None              # coverage's own page for it, relative to the report

    @property
    def line_pct(self) -> float | None:
        return _pct(self.covered_lines, self.statements)

    @property
    def branch_pct(self) -> float | None:
        return _pct(self.covered_branches, self.branches)

    @property
    def status(self) -> str:
        """``met`` · ``below`` (line or branch share under the target) · ``no target``."""
        if self.target is None:
            return "no target"
        shares = [p for p in (self.line_pct, self.branch_pct) if p is not None]
        # A module without statements has nothing left to cover.
        return "met" if all(p + 1e-9 >= self.target for p in shares) else "below"

    def line_link(self, line: int) -> str | None:
        """Where a line is shown: coverage's page for the module, at that line."""
        return None if self.html is None else f"{self.html}#t{line}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(line_pct=self.line_pct, branch_pct=self.branch_pct, status=self.status)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleCoverage:
        return cls(module=data["module"], tier=data.get("tier", "supporting"),
                   target=data.get("target"), why=data.get("why", ""),
                   statements=int(data.get("statements", 0)),
                   covered_lines=int(data.get("covered_lines", 0)),
                   branches=int(data.get("branches", 0)),
                   covered_branches=int(data.get("covered_branches", 0)),
                   missing_lines=[int(n) for n in data.get("missing_lines", [])],
                   missing_branches=[[int(a), int(b)] for a, b in data.get("missing_branches", [])],
                   html=data.get("html"))


@dataclass(slots=True)
class CodeCoverage:
    """The run's coverage of the system under test (``package``), module by module."""

    package: str
    modules: list[ModuleCoverage] = field(default_factory=list)
    html_index: str | None = None        # coverage's own HTML report, relative to the report
    processes: int = 0                   # data files combined (one per measured process)
    measured_in: list[str] = field(default_factory=list)  # where it was measured, in words
    combine_s: float | None = None       # combining and writing coverage's reports took
    notes: list[str] = field(default_factory=list)

    def tier(self, name: str) -> list[ModuleCoverage]:
        return [m for m in self.modules if m.tier == name]

    def totals(self, modules: list[ModuleCoverage] | None = None) -> dict[str, Any]:
        rows = self.modules if modules is None else modules
        statements = sum(m.statements for m in rows)
        lines = sum(m.covered_lines for m in rows)
        branches = sum(m.branches for m in rows)
        covered = sum(m.covered_branches for m in rows)
        return {"modules": len(rows), "statements": statements, "covered_lines": lines,
                "line_pct": _pct(lines, statements), "branches": branches,
                "covered_branches": covered, "branch_pct": _pct(covered, branches)}

    @property
    def below_target(self) -> list[ModuleCoverage]:
        return [m for m in self.modules if m.status == "below"]

    def uncovered_critical(self) -> list[ModuleCoverage]:
        """Critical modules with a line or a branch that never ran."""
        return [m for m in self.tier("critical") if m.missing_lines or m.missing_branches]

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "modules": [m.to_json() for m in self.modules],
                "html_index": self.html_index, "processes": self.processes,
                "measured_in": self.measured_in, "combine_s": self.combine_s,
                "notes": self.notes,
                "totals": {tier: self.totals(self.tier(tier)) for tier in TIERS}
                | {"all": self.totals()},
                "below_target": [m.module for m in self.below_target]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeCoverage:
        return cls(package=data["package"],
                   modules=[ModuleCoverage.from_json(m) for m in data.get("modules", [])],
                   html_index=data.get("html_index"), processes=int(data.get("processes", 0)),
                   measured_in=list(data.get("measured_in", [])),
                   combine_s=data.get("combine_s"), notes=list(data.get("notes", [])))


def line_ranges(lines: list[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 9] → [(3, 5), (9, 9)]: missing lines as the report prints them."""
    ranges: list[tuple[int, int]] = []
    for n in sorted(lines):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges
