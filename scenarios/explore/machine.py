"""The Hypothesis state machine: rules draw steps, the explorer applies and judges them.

    result = explore(stack, Profile.ci(), seed=0)
    if result.failure: print(result.failure.text)

Each example gets a clean world on the shared embedded stack (`world_for`: the fake and the
database reset in milliseconds), a frozen clock at `universe.START`, and webhooks held until a
`deliver` step. Every random choice comes from Hypothesis, seeded: the same seed, profile and
defenses give the same steps (and, on a shrunk failure, the same reproducer).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test, rule

from harness.session import Session
from harness.world import world_for
from scenarios.explore import universe as U
from scenarios.explore.explorer import Explorer, Step

SLOT = st.integers(0, len(U.SLOTS) - 1)
SERVICE = st.sampled_from(sorted(U.SERVICES))
NAME = st.integers(0, len(U.NAMES) - 1)
#: Which caller or held slot (taken modulo how many there are; the step records the resolved one).
WHICH = st.integers(0, 7)


def _weighted(weights: dict[str, int]) -> st.SearchStrategy[str]:
    """A choice with weights (Hypothesis draws uniformly from the repeated list; the first entry
    is where shrinking goes, so the harmless choices come first)."""
    return st.sampled_from([name for name, n in weights.items() for _ in range(n)])


FAULT = st.fixed_dictionaries({
    "kind": _weighted(U.FAULT_WEIGHTS),
    "endpoint": st.sampled_from(U.FAULT_ENDPOINTS),
    "trigger": _weighted(U.TRIGGER_WEIGHTS),
})

#: The arguments each action draws (the explorer's `do_<action>` signature).
ARGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "deliver": st.just({}),
    "advance": st.fixed_dictionaries({"seconds": st.sampled_from(U.CLOCK_STEPS)}),
    "check": st.fixed_dictionaries({"slot": SLOT, "service": SERVICE}),
    "book": st.fixed_dictionaries({"slot": SLOT, "service": SERVICE, "name": NAME}),
    "book_taken": st.fixed_dictionaries({"which": WHICH, "service": SERVICE,
                                         "namesake": st.booleans()}),
    "retry": st.fixed_dictionaries({"caller": WHICH, "rename": st.booleans()}),
    "burst": st.fixed_dictionaries({"slot": SLOT, "service": SERVICE,
                                    "names": st.lists(NAME, min_size=2, max_size=3)}),
    "cancel": st.fixed_dictionaries({"caller": WHICH}),
    "reschedule": st.fixed_dictionaries({"caller": WHICH, "slot": SLOT}),
    "outside_take": st.fixed_dictionaries({
        "slot": SLOT, "service": SERVICE, "name": NAME,
        "age": st.integers(0, len(U.OUTSIDE_AGES) - 1), "earlier_call": st.booleans()}),
    "outside_cancel": st.fixed_dictionaries({"which": WHICH}),
    "arm": FAULT,
    "crash": st.just({}),
    "reconcile": st.fixed_dictionaries({"repair": st.booleans()}),
    "import_race": st.just({}),
}

STEP = _weighted(U.ACTION_WEIGHTS).flatmap(
    lambda action: ARGS[action].map(lambda args: (action, args)))


@dataclass(frozen=True)
class Profile:
    """How much to explore: examples (sequences) of up to `steps` steps each."""

    name: str
    examples: int
    steps: int
    shrink: bool = True

    @classmethod
    def ci(cls) -> Profile:
        """Part of `calharness verify` and its ablation (seed 0): deep enough to find every
        failure of scenarios/found/ with its fix off, about a minute on 2 cores."""
        return cls("ci", examples=CI_BUDGET[0], steps=CI_BUDGET[1])

    @classmethod
    def quick(cls) -> Profile:
        """What a plain `pytest` runs: the machine works end to end, in seconds (the depth
        belongs to `calharness verify` and `calharness explore`)."""
        return cls("quick", examples=25, steps=8)

    @classmethod
    def nightly(cls) -> Profile:
        """`calharness explore --profile deep`: a night's run, bounded (see DEEP_BUDGET)."""
        return cls("deep", examples=DEEP_BUDGET[0], steps=DEEP_BUDGET[1])

    @classmethod
    def named(cls, name: str) -> Profile:
        """`ci`, `quick` or `deep` (the scenario's profile by `CALHARNESS_EXPLORE_PROFILE`)."""
        profiles = {"ci": cls.ci, "quick": cls.quick, "deep": cls.nightly}
        if name not in profiles:
            raise ValueError(f"CALHARNESS_EXPLORE_PROFILE must be one of {sorted(profiles)}, "
                             f"not {name!r}")
        return profiles[name]()

    @classmethod
    def deep(cls, examples: int = 500, steps: int = 30) -> Profile:
        """A budget of one's own (`--examples`, `--steps`)."""
        return cls("custom", examples=examples, steps=steps)


#: (examples, steps) of the CI profile and of the nightly `deep` one; the CI profile's seed.
CI_BUDGET = (150, 12)
DEEP_BUDGET = (1000, 25)
CI_SEED = 0


@dataclass
class Failure:
    """A shrunk failing sequence: the steps, what broke, and how to run it again."""

    steps: list[Step]
    error: str
    kind: str
    seed: int | None
    defenses_off: tuple[str, ...]

    @property
    def text(self) -> str:
        from scenarios.explore.reproducer import render_text

        return render_text(self)


@dataclass
class ExploreResult:
    profile: Profile
    seed: int | None
    defenses_off: tuple[str, ...]
    examples: int = 0
    steps: int = 0
    failure: Failure | None = None
    #: what the run is doing now: generating, shrinking (Hypothesis), dropping steps
    phase: str = "generating"
    #: told after every example and every step dropped (a progress display)
    on_change: Callable[[ExploreResult], None] | None = field(default=None, repr=False,
                                                             compare=False)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def summary(self) -> str:
        off = ", ".join(self.defenses_off) or "none"
        n = len(self.failure.steps) if self.failure else 0
        verdict = "no failure" if self.ok else \
            f"FAILED, shrunk to {n} steps" if self.profile.shrink else f"FAILED ({n} steps)"
        return (f"explore[{self.profile.name}] seed={self.seed} defenses off: {off}: "
                f"{self.examples} examples, {self.steps} steps, {verdict}")


def machine_for(session: Session, defenses_off: tuple[str, ...],
                result: ExploreResult) -> type[RuleBasedStateMachine]:
    """A state machine class bound to one session (Hypothesis builds one per example)."""

    class BookingMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self._world_cm = world_for(session, defenses_off=defenses_off, judge=False)
            world = self._world_cm.__enter__()
            self.explorer = Explorer(world)
            self._failed = False
            result.examples += 1
            if result.failure is not None and result.phase == "generating":
                result.phase = "shrinking"  # Hypothesis replays smaller examples after a failure
            result.changed()

        def _do(self, action: str, **args: Any) -> None:
            result.steps += 1
            try:
                self.explorer.apply(Step(action, args))
            except BaseException as exc:
                self._failed = True
                _remember(result, self.explorer.steps, exc, defenses_off)
                raise

        @rule(step=STEP)
        def step(self, step: tuple[str, dict[str, Any]]) -> None:
            resolved = self.explorer.resolve(*step)
            if resolved is not None:  # None: nothing to act on yet (no caller, no booking)
                self._do(resolved[0], **resolved[1])

        def teardown(self) -> None:
            try:
                if not self._failed:
                    self.explorer.check_end()
            except BaseException as exc:
                _remember(result, self.explorer.steps, exc, defenses_off)
                raise
            finally:
                self.explorer.close()
                self._world_cm.__exit__(None, None, None)

    return BookingMachine


def _remember(result: ExploreResult, steps: list[Step], exc: BaseException,
              defenses_off: tuple[str, ...]) -> None:
    """Keep the latest failing sequence: Hypothesis runs the shrunk one last."""
    result.failure = Failure(steps=list(steps), error="".join(
        traceback.format_exception_only(type(exc), exc)).strip(), kind=type(exc).__name__,
        seed=result.seed, defenses_off=defenses_off)


def explore(session: Session, profile: Profile, *, seed: int | None = 0,
            defenses_off: Iterable[str] = (), database: Path | None = None,
            verbose: bool = False, minimal: bool = True,
            on_change: Callable[[ExploreResult], None] | None = None) -> ExploreResult:
    """Run the machine; a failure is shrunk (by Hypothesis when the profile says so, then by
    dropping single steps while it still breaks the same way, unless `minimal` is off) and
    returned, not raised."""
    off = tuple(defenses_off)
    result = ExploreResult(profile=profile, seed=seed, defenses_off=off, on_change=on_change)
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if profile.shrink:
        phases.append(Phase.shrink)
    config = settings(
        max_examples=profile.examples, stateful_step_count=profile.steps, deadline=None,
        database=DirectoryBasedExampleDatabase(str(database)) if database else None,
        suppress_health_check=list(HealthCheck), phases=phases, print_blob=False,
        report_multiple_bugs=False,
        verbosity=Verbosity.normal if verbose else Verbosity.quiet)
    test = get_state_machine_test(machine_for(session, off, result), settings=config)
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except Exception:  # the failure is in result.failure, shrunk
        if result.failure is None:
            raise
    else:
        result.failure = None  # failures seen while shrinking do not count when it passed
    if result.failure is not None and minimal:
        result.failure = minimise(session, result.failure, result)
    return result


def _signature(error: str) -> str:
    """What broke, without the details: the exception type and the first checker named."""
    lines = error.splitlines()
    checker = lines[1].split(":")[0].strip() if len(lines) > 1 else ""
    return f"{lines[0].split(':')[0]} {checker}"


def replays_failing(session: Session, failure: Failure, steps: list[Step]) -> str | None:
    """Replay `steps` on a clean world; the error if it breaks the same way, else None."""
    from scenarios.explore.explorer import InvariantViolated, ModelMismatch, RepairFailed

    with world_for(session, defenses_off=failure.defenses_off, judge=False) as world:
        explorer = Explorer(world)
        try:
            for step in steps:
                explorer.apply(step)
            explorer.check_end()
        except (InvariantViolated, ModelMismatch, RepairFailed) as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return error if _signature(error) == _signature(failure.error) else None
        except Exception:  # a step that no longer makes sense (a caller that is not there)
            return None
        finally:
            explorer.close()
    return None


def minimise(session: Session, failure: Failure,
             result: ExploreResult | None = None) -> Failure:
    """Drop single steps while the failure stays the same (Hypothesis's shrinker sometimes
    keeps steps that only moved the clock or made an unrelated caller)."""
    steps = list(failure.steps)
    error = failure.error
    shrunk = True
    while shrunk and len(steps) > 1:
        shrunk = False
        if result is not None:
            result.phase = f"dropping steps ({len(steps)} left)"
            result.changed()
        for i in range(len(steps)):
            candidate = steps[:i] + steps[i + 1:]
            again = replays_failing(session, failure, candidate)
            if again is not None:
                steps, error, shrunk = candidate, again, True
                break
    return Failure(steps=steps, error=error, kind=failure.kind, seed=failure.seed,
                   defenses_off=failure.defenses_off)


#: What the machine needs of a target (its steps arm faults, move the clock, hold webhooks,
#: force interleavings, book at the desk, reconcile; each example starts from a reset).
NEEDS = ("reset", "faults", "clock", "failpoints", "webhook_control", "outside_changes",
         "reconcile", "voice_api", "book", "cancel", "reschedule", "check")


@contextlib.contextmanager
def running_session(label: str = "explore", database_url: str | None = None,
                    target: Path | None = None) -> Any:
    """A session for a standalone run (`calharness explore`): the target file's deployment, or
    an embedded stack of our own."""
    from harness.capabilities import MissingCapability
    from harness.stack import EmbeddedStack, StackOptions
    from harness.target import load_target

    if target is not None:
        with Session(load_target(target)) as session:
            missing = [n for n in NEEDS if n not in session.capabilities]
            if missing:
                raise MissingCapability(*missing)
            yield session, None
        return
    with EmbeddedStack(StackOptions(label=label, database_url=database_url)) as stack, \
            Session(stack.target) as session:
        yield session, stack
