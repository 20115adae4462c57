"""The report of one ``calharness`` run, as plain data.

The CLI fills a :class:`RunReport` (scenario results from pytest's JUnit XML, checker verdicts,
an ablation matrix, a load summary) and hands it to :func:`reports.render.write_reports`. Every
class round-trips through JSON (``to_json``/``from_json``), so a run split over processes (an
ablation run per defense) can pass its part along as ``summary.json``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from reports.code_coverage import CodeCoverage
from reports.faults import FaultCoverage
from reports.incidents import BY_ID, CATALOGUE, Incident

SCHEMA = "calharness.report/1"

Outcome = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
OUTCOMES: tuple[str, ...] = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
#: Outcomes that make a run fail (a strict xpass reaches JUnit as a failure).
BAD_OUTCOMES = frozenset({"failed", "error"})


@dataclass(slots=True)
class ScenarioResult:
    """One test/scenario: where it belongs, what it covers and how it went."""

    nodeid: str
    outcome: str
    area: str = "other"
    incidents: list[str] = field(default_factory=list)
    defenses: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    failure: str | None = None          # failure/error/skip text (shortened)
    hypothesis: HypothesisStat | None = None
    needs: list[str] = field(default_factory=list)    # capabilities it declares
    missing: list[str] = field(default_factory=list)  # those the target lacked (it was skipped)

    @property
    def name(self) -> str:
        return self.nodeid.rsplit("::", 1)[-1]

    @property
    def bad(self) -> bool:
        return self.outcome in BAD_OUTCOMES

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["hypothesis"] = self.hypothesis.to_json() if self.hypothesis else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioResult:
        hyp = data.get("hypothesis")
        return cls(nodeid=data["nodeid"], outcome=data["outcome"], area=data.get("area", "other"),
                   incidents=list(data.get("incidents", [])),
                   defenses=list(data.get("defenses", [])),
                   duration_s=float(data.get("duration_s", 0.0)), failure=data.get("failure"),
                   hypothesis=HypothesisStat.from_json(hyp) if hyp else None,
                   needs=list(data.get("needs", [])), missing=list(data.get("missing", [])))


@dataclass(slots=True)
class HypothesisStat:
    """What Hypothesis reported for one property/state-machine test."""

    nodeid: str
    passing: int | None = None
    failing: int | None = None
    invalid: int | None = None
    seconds: float | None = None
    text: str = ""                      # Hypothesis's own statistics description

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HypothesisStat:
        return cls(nodeid=str(data["nodeid"]), passing=data.get("passing"),
                   failing=data.get("failing"), invalid=data.get("invalid"),
                   seconds=data.get("seconds"), text=data.get("text", ""))


@dataclass(slots=True)
class CheckResult:
    """One checker's verdict (``harness.checks.Verdict``) in report form; ``scope`` says what it
    judged (``"run"``, a scenario's node id, ``"load"``…)."""

    name: str
    ok: bool
    scope: str = "run"
    checked: int = 0
    skipped: str | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_verdict(cls, verdict: Any, scope: str = "run") -> CheckResult:
        """From a ``harness.checks.Verdict`` (anything with ``to_json()`` in that shape)."""
        data = verdict.to_json()
        return cls(name=data["name"], ok=data["ok"], scope=scope, checked=data["checked"],
                   skipped=data["skipped"], violations=data["violations"])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        return cls(name=data["name"], ok=bool(data["ok"]), scope=data.get("scope", "run"),
                   checked=int(data.get("checked", 0)), skipped=data.get("skipped"),
                   violations=list(data.get("violations", [])))


@dataclass(slots=True)
class AblationRow:
    """One defense switched off: the scenarios that failed (beyond the baseline's failures).

    ``tagged`` are the scenarios marked ``defense(<name>)``; a tagged scenario that still passed
    is listed, and a defense with no failing scenario at all is *undetected*.
    """

    defense: str
    failed: list[str] = field(default_factory=list)
    tagged: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    violation_kinds: list[str] = field(default_factory=list)
    error: str | None = None            # the ablation run itself broke (counts as undetected)

    @property
    def detected(self) -> bool:
        return bool(self.failed) and self.error is None

    @property
    def tagged_still_passing(self) -> list[str]:
        failed = set(self.failed)
        return [t for t in self.tagged if t not in failed]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["detected"] = self.detected
        data["tagged_still_passing"] = self.tagged_still_passing
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AblationRow:
        return cls(defense=data["defense"], failed=list(data.get("failed", [])),
                   tagged=list(data.get("tagged", [])), incidents=list(data.get("incidents", [])),
                   violation_kinds=list(data.get("violation_kinds", [])), error=data.get("error"))


@dataclass(slots=True)
class LoadSummary:
    """A load run in a few numbers (Locust's totals), and whether it met its targets."""

    users: int
    duration_s: float
    requests: int
    failures: int
    rps: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    passed: bool = True
    notes: list[str] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)  # per-endpoint rows, as given
    # The booking flow against its target, when the run's own summary says (None: not known).
    profile: str | None = None
    time_factor: float = 1.0             # the run compressed time by this factor
    target_s: float | None = None        # the real-time p95 target of the booking flow (45 s)

    @property
    def flow_real_s(self) -> dict[str, float | None]:
        """The booking flow's p50/p95/p99 in real-time seconds (the time factor undone)."""
        return {name: None if ms is None else ms / 1000 * self.time_factor
                for name, ms in (("p50", self.p50_ms), ("p95", self.p95_ms),
                                 ("p99", self.p99_ms))}

    @property
    def meets_target(self) -> bool | None:
        p95 = self.flow_real_s["p95"]
        if self.target_s is None or p95 is None:
            return None
        return p95 <= self.target_s + 1e-9

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadSummary:
        return cls(**{k: data[k] for k in ("users", "duration_s", "requests", "failures", "rps")},
                   p50_ms=data.get("p50_ms"), p95_ms=data.get("p95_ms"),
                   p99_ms=data.get("p99_ms"), passed=bool(data.get("passed", True)),
                   notes=list(data.get("notes", [])), endpoints=list(data.get("endpoints", [])),
                   profile=data.get("profile"), time_factor=float(data.get("time_factor") or 1.0),
                   target_s=data.get("target_s"))


@dataclass(slots=True)
class CapacityPoint:
    users: int
    p50_s: float | None                  # real-time seconds
    p95_s: float | None
    meets_target: bool
    bookings_per_min: float | None = None
    violated: list[str] = field(default_factory=list)  # invariants this step broke

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class CapacityCurve:
    """``calharness load --find-capacity``: p95 of the booking flow per number of calls."""

    target_s: float                      # real-time p95 target
    capacity: int | None
    points: list[CapacityPoint] = field(default_factory=list)
    time_factor: float = 1.0
    profile: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"target_s": self.target_s, "capacity": self.capacity,
                "points": [p.to_json() for p in self.points], "time_factor": self.time_factor,
                "profile": self.profile}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CapacityCurve:
        return cls(target_s=float(data["target_s"]), capacity=data.get("capacity"),
                   points=[CapacityPoint(**p) for p in data.get("points", [])],
                   time_factor=float(data.get("time_factor") or 1.0), profile=data.get("profile"))


@dataclass(slots=True)
class PreviousRun:
    """The run before (its ``summary.json``), to compare outcomes with (``--previous``)."""

    source: str                          # the file it came from
    outcomes: dict[str, str] = field(default_factory=dict)   # node id → outcome
    started_at: str | None = None
    ok: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreviousRun:
        return cls(source=data["source"], outcomes=dict(data.get("outcomes", {})),
                   started_at=data.get("started_at"), ok=data.get("ok"))

    @classmethod
    def from_summary(cls, source: str, summary: dict[str, Any]) -> PreviousRun:
        """From a previous run's summary.json (any schema version that lists scenarios)."""
        if summary.get("schema") != SCHEMA:
            raise ValueError(f"{source}: not a {SCHEMA} summary (schema "
                             f"{summary.get('schema')!r})")
        return cls(source=source, outcomes={s["nodeid"]: s["outcome"]
                                            for s in summary.get("scenarios", [])},
                   started_at=summary.get("started_at"), ok=summary.get("ok"))


@dataclass(slots=True)
class IncidentCoverage:
    incident: Incident
    scenarios: list[ScenarioResult]

    #: scenarios that name it but were not selected this run (``-k``, ablation)
    not_selected: list[ScenarioResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``uncovered`` (no scenario names it) · ``not selected`` (only unselected ones do) ·
        ``failing`` · ``skipped`` (every scenario skipped) · ``partial`` (some skipped, the rest
        passed) · ``passing``."""
        if not self.scenarios:
            return "not selected" if self.not_selected else "uncovered"
        if any(s.bad for s in self.scenarios):
            return "failing"
        if all(s.outcome == "skipped" for s in self.scenarios):
            return "skipped"
        if any(s.outcome == "skipped" for s in self.scenarios):
            return "partial"
        return "passing"

    @property
    def skip_reasons(self) -> list[str]:
        """Why its skipped scenarios did not run (first line of each reason, once)."""
        reasons: list[str] = []
        for s in self.scenarios:
            if s.outcome == "skipped":
                why = (f"lacking {', '.join(s.missing)}" if s.missing
                       else (s.failure or "skipped").strip().splitlines()[0])
                reasons.append(f"{s.name}: {why}")
        return list(dict.fromkeys(reasons))


@dataclass(slots=True)
class RunReport:
    """Everything one run found. ``database`` says which database the stack used."""

    scenarios: list[ScenarioResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    ablation: list[AblationRow] | None = None
    load: LoadSummary | None = None
    database: str | None = None
    target: str = "embedded"
    title: str = "calharness verify"
    command: str | None = None
    started_at: str | None = None
    duration_s: float | None = None
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    #: the least share (0..1) or number of scenarios that must have run (``--min-ran``)
    min_ran: float | int | None = None
    code_coverage: CodeCoverage | None = None
    faults: FaultCoverage | None = None
    capacity: CapacityCurve | None = None
    previous: PreviousRun | None = None
    #: ``--repeat N``: each run's outcome per node id (the first run is ``scenarios``)
    repeats: list[dict[str, str]] | None = None
    #: scenarios the run did not select (``-k``, an ablation's tag filter), with their markers
    not_selected: list[ScenarioResult] = field(default_factory=list)
    #: a path from the report's folder to the repository (links to docs/, sources)
    repo_link: str | None = None

    # -- derived views -------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(s.outcome for s in self.scenarios)
        return {o: counts.get(o, 0) for o in OUTCOMES}

    @property
    def total(self) -> int:
        return len(self.scenarios)

    @property
    def ran(self) -> int:
        """Scenarios that ran (every outcome but skipped)."""
        return sum(1 for s in self.scenarios if s.outcome != "skipped")

    @property
    def required_to_run(self) -> int | None:
        """How many scenarios ``min_ran`` asks for (a share is rounded up)."""
        if self.min_ran is None:
            return None
        if isinstance(self.min_ran, float):
            return -(-int(self.min_ran * self.total * 1000) // 1000)  # ceil, float-safe
        return int(self.min_ran)

    @property
    def ran_enough(self) -> bool:
        required = self.required_to_run
        return required is None or self.ran >= required

    def skipped_for_capabilities(self) -> dict[str, list[str]]:
        """capability → the skipped scenarios that lacked it (a scenario may lack several)."""
        table: dict[str, list[str]] = {}
        for s in self.scenarios:
            if s.outcome == "skipped":
                for name in s.missing:
                    table.setdefault(name, []).append(s.nodeid)
        return dict(sorted(table.items(), key=lambda item: (-len(item[1]), item[0])))

    @property
    def skipped_otherwise(self) -> list[ScenarioResult]:
        """Skipped for another reason than a missing capability (the reason is its text)."""
        return [s for s in self.scenarios if s.outcome == "skipped" and not s.missing]

    def ran_line(self) -> str:
        """``147 of 148 scenarios ran (1 skipped; lacking mariadb ×1)``."""
        skipped = self.total - self.ran
        text = f"{self.ran} of {self.total} scenarios ran"
        if skipped:
            lacked = ", ".join(f"{name} ×{len(ids)}"
                               for name, ids in self.skipped_for_capabilities().items())
            text += f" ({skipped} skipped" + (f"; lacking {lacked}" if lacked else "") + ")"
        return text

    @property
    def failed_scenarios(self) -> list[ScenarioResult]:
        return [s for s in self.scenarios if s.bad]

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    @property
    def undetected_defenses(self) -> list[str]:
        return [r.defense for r in self.ablation or () if not r.detected]

    @property
    def ok(self) -> bool:
        """Exit code 0 only if every scenario and checker passed, every ablated defense was
        detected, the load run (if any) met its targets, enough scenarios ran, and no scenario
        changed its outcome between repeats (``--repeat``)."""
        return (not self.failed_scenarios and not self.failed_checks
                and not self.undetected_defenses and (self.load is None or self.load.passed)
                and self.ran_enough and not self.flaky())

    # -- trend and flakiness ---------------------------------------------------------------------

    def flaky(self) -> dict[str, list[str]]:
        """node id → its outcome in each repeat, for scenarios whose outcome changed."""
        if not self.repeats or len(self.repeats) < 2:
            return {}
        ids = list(dict.fromkeys(n for run in self.repeats for n in run))
        table = {n: [run.get(n, "missing") for run in self.repeats] for n in ids}
        return {n: outcomes for n, outcomes in table.items() if len(set(outcomes)) > 1}

    def trend(self) -> dict[str, list[tuple[str, str, str]]]:
        """Compared with ``previous``: ``new_failures``, ``fixed`` and every other ``changed``
        outcome, each as (node id, before, now); ``new`` and ``gone`` scenarios too."""
        result: dict[str, list[tuple[str, str, str]]] = {
            "new_failures": [], "fixed": [], "changed": [], "new": [], "gone": []}
        if self.previous is None:
            return result
        before = self.previous.outcomes
        now = {s.nodeid: s.outcome for s in self.scenarios}
        for nodeid, outcome in now.items():
            was = before.get(nodeid)
            if was is None:
                result["new"].append((nodeid, "—", outcome))
                if outcome in BAD_OUTCOMES:
                    result["new_failures"].append((nodeid, "—", outcome))
            elif was != outcome:
                row = (nodeid, was, outcome)
                if outcome in BAD_OUTCOMES and was not in BAD_OUTCOMES:
                    result["new_failures"].append(row)
                elif was in BAD_OUTCOMES and outcome not in BAD_OUTCOMES:
                    result["fixed"].append(row)
                else:
                    result["changed"].append(row)
        selected_out = {s.nodeid for s in self.not_selected}
        result["gone"] = [(n, was, "not selected" if n in selected_out else "gone")
                          for n, was in before.items() if n not in now]
        return result

    def scenarios_by_area(self) -> dict[str, list[ScenarioResult]]:
        """Every scenario of the run under its area (areas sorted, scenarios in run order)."""
        table: dict[str, list[ScenarioResult]] = {}
        for s in self.scenarios:
            table.setdefault(s.area, []).append(s)
        return {area: table[area] for area in sorted(table)}

    def violations_of(self, nodeid: str) -> list[dict[str, Any]]:
        """The checker violations a scenario's own verdicts found (the checker named)."""
        return [{**v, "checker": c.name} for c in self.checks for v in c.violations
                if v.get("scenario") == nodeid]

    def fault_answers(self) -> dict[str, dict[str, Any]]:
        """For each scenario that injected a fault: how it came out, the defenses it is
        tagged with, and the checkers that found a violation in it."""
        if self.faults is None:
            return {}
        rows = {s.nodeid: s for s in self.scenarios}
        answers: dict[str, dict[str, Any]] = {}
        for nodeid in dict.fromkeys(i.scenario for i in self.faults.injections):
            s = rows.get(nodeid)
            caught = list(dict.fromkeys(v["checker"] for v in self.violations_of(nodeid)))
            answers[nodeid] = {"outcome": s.outcome if s else "unknown",
                               "defenses": list(s.defenses) if s else [], "checkers": caught}
        return answers

    def by_area(self) -> dict[str, dict[str, int]]:
        """area → outcome → count, areas sorted, outcomes in OUTCOMES order."""
        table: dict[str, Counter[str]] = {}
        for s in self.scenarios:
            table.setdefault(s.area, Counter())[s.outcome] += 1
        return {area: {o: table[area].get(o, 0) for o in OUTCOMES} for area in sorted(table)}

    def coverage(self) -> list[IncidentCoverage]:
        """Every catalogued incident with the scenarios that name it (and those that name it
        but were not selected)."""
        by_incident: dict[str, list[ScenarioResult]] = {i.id: [] for i in CATALOGUE}
        unselected: dict[str, list[ScenarioResult]] = {i.id: [] for i in CATALOGUE}
        for rows, table in ((self.scenarios, by_incident), (self.not_selected, unselected)):
            for s in rows:
                for incident_id in s.incidents:
                    if incident_id in table:
                        table[incident_id].append(s)
        return [IncidentCoverage(i, by_incident[i.id], unselected[i.id]) for i in CATALOGUE]

    def unknown_incidents(self) -> dict[str, list[str]]:
        """Marker ids not in the catalogue (typos would otherwise look like coverage)."""
        unknown: dict[str, list[str]] = {}
        for s in self.scenarios:
            for incident_id in s.incidents:
                if incident_id not in BY_ID:
                    unknown.setdefault(incident_id, []).append(s.nodeid)
        return unknown

    def hypothesis_stats(self) -> list[HypothesisStat]:
        return [s.hypothesis for s in self.scenarios if s.hypothesis is not None]

    # -- JSON ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """``summary.json``: the inputs, plus the derived views a reader would compute."""
        return {
            "schema": SCHEMA, "ok": self.ok, "title": self.title, "command": self.command,
            "started_at": self.started_at, "duration_s": self.duration_s,
            "database": self.database, "target": self.target, "seed": self.seed,
            "notes": self.notes, "counts": self.counts, "by_area": self.by_area(),
            "ran": self.ran, "total": self.total, "min_ran": self.min_ran,
            "required_to_run": self.required_to_run, "ran_enough": self.ran_enough,
            "skipped_for_capabilities": self.skipped_for_capabilities(),
            "coverage": [{"incident": c.incident.id, "title": c.incident.title,
                          "seeds": list(c.incident.seeds), "review": c.incident.review,
                          "status": c.status, "skip_reasons": c.skip_reasons,
                          "scenarios": [{"nodeid": s.nodeid, "outcome": s.outcome}
                                        for s in c.scenarios],
                          "not_selected": [s.nodeid for s in c.not_selected]}
                         for c in self.coverage()],
            "unknown_incidents": self.unknown_incidents(),
            "undetected_defenses": self.undetected_defenses,
            "scenarios": [s.to_json() for s in self.scenarios],
            "checks": [c.to_json() for c in self.checks],
            "ablation": None if self.ablation is None else [r.to_json() for r in self.ablation],
            "load": self.load.to_json() if self.load else None,
            "code_coverage": self.code_coverage.to_json() if self.code_coverage else None,
            "faults": self.faults.to_json() if self.faults else None,
            "capacity": self.capacity.to_json() if self.capacity else None,
            "previous": self.previous.to_json() if self.previous else None,
            "trend": None if self.previous is None else {
                k: [list(row) for row in rows] for k, rows in self.trend().items()},
            "repeats": self.repeats, "flaky": self.flaky(),
            "not_selected": [s.to_json() for s in self.not_selected],
            "repo_link": self.repo_link,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunReport:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} summary (schema {data.get('schema')!r})")
        ablation = data.get("ablation")
        return cls(
            scenarios=[ScenarioResult.from_json(s) for s in data.get("scenarios", [])],
            checks=[CheckResult.from_json(c) for c in data.get("checks", [])],
            ablation=None if ablation is None else [AblationRow.from_json(r) for r in ablation],
            load=LoadSummary.from_json(data["load"]) if data.get("load") else None,
            database=data.get("database"), target=data.get("target", "embedded"),
            title=data.get("title", "calharness verify"), command=data.get("command"),
            started_at=data.get("started_at"), duration_s=data.get("duration_s"),
            seed=data.get("seed"), notes=list(data.get("notes", [])),
            min_ran=data.get("min_ran"),
            code_coverage=(CodeCoverage.from_json(data["code_coverage"])
                           if data.get("code_coverage") else None),
            faults=FaultCoverage.from_json(data["faults"]) if data.get("faults") else None,
            capacity=CapacityCurve.from_json(data["capacity"]) if data.get("capacity") else None,
            previous=PreviousRun.from_json(data["previous"]) if data.get("previous") else None,
            repeats=data.get("repeats"),
            not_selected=[ScenarioResult.from_json(s) for s in data.get("not_selected", [])],
            repo_link=data.get("repo_link"),
        )
