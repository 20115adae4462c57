"""Mutation testing of the reference service: does the scenario suite catch realistic bugs?

Runs mutmut 3 over modules of ``booking_service/`` with the scenario suite (embedded stack,
SQLite) or the service's unit tests as the test command, and writes a mutation report — per
module killed / survived / timed out, every survivor as a diff with the scenario area that
should have caught it and the tests that ran it — to ``reports/out/mutation/<tests>.{md,json}``.

Why mutmut and not cosmic-ray (both tried on ``german_datetime.py``, 797 resp. 901 mutants):
mutmut compiles every mutant into the module once (trampolines), records which tests run each
function, forks one worker per mutant and runs only those tests, stopping at the first failure —
2.3 mutants/s with its unit-test file on 2 cores. cosmic-ray writes each mutant into the source file
in place and runs the whole test command in a fresh process (0.2 mutants/s, and a run stopped
mid-way leaves a mutated file in the work tree). For the scenario suite, whose per-mutant cost is
the scenarios that reach the mutated function, mutmut's test selection is what makes a run fit.

    pip install mutmut                     # not a CI dependency: CI never runs this
    python benchmarks/mutation.py --module booking_service/german_datetime.py --max-mutants 40
    python benchmarks/mutation.py --tests unit            # the issue's module set, unit tests
    python benchmarks/mutation.py --report-only           # rewrite the report from the cache

Bounded and repeatable: ``--max-mutants N`` takes N mutants per module, evenly spaced over its
mutants in source order (the same N every run); ``--timeout S`` bounds the whole run (results
are saved per mutant, so a stopped run resumes). The cache is mutmut's own, in a workspace per
test command under ``build/mutation/``; when the tests change, survivors and time-outs are run
again (a kill stands: adding tests cannot un-kill a mutant).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The issue's module set.
DEFAULT_MODULES = ("booking_service/flows/", "booking_service/calcom/",
                   "booking_service/german_datetime.py", "booking_service/tenants.py")

#: What each test command runs (pytest arguments, relative to the workspace).
TEST_COMMANDS: dict[str, list[str]] = {
    "scenarios": ["scenarios", "--ignore=scenarios/explore"],
    "unit": ["tests/booking_service"],
}

#: Files whose change means the verdicts of survivors must be measured again.
TEST_INPUTS: dict[str, tuple[str, ...]] = {
    "scenarios": ("scenarios", "harness", "fake_calcom", "conftest.py"),
    "unit": ("tests/booking_service", "fake_calcom", "conftest.py"),
}

#: Top-level entries of the repository the tests need, linked into the workspace.
PROJECT_ENTRIES = ("booking_service", "fake_calcom", "harness", "calharness", "scenarios",
                   "reports", "examples", "loadtests", "tests", "conftest.py")

#: mutmut's exit codes → the report's words.
STATUS = {0: "survived", 1: "killed", 3: "killed", 36: "timeout", 33: "no tests",
          5: "no tests", 34: "skipped", 37: "killed"}

#: Module → the scenario area that should catch a bug there (the issue's areas).
AREAS: dict[str, str] = {
    "booking_service/flows/booking.py": "ambiguous create + retry; alternatives offered when a slot is gone (scenarios/resilience/test_ambiguous_writes.py, scenarios/rca/)",
    "booking_service/flows/upstream.py": "ambiguous create + retry: what a retry finds upstream (scenarios/resilience/test_ambiguous_writes.py)",
    "booking_service/flows/slots.py": "alternatives offered when a slot is gone (scenarios/smoke/, scenarios/rca/test_availability_race_14s.py)",
    "booking_service/flows/availability.py": "alternatives offered when a slot is gone (scenarios/smoke/)",
    "booking_service/flows/changes.py": "who may cancel/reschedule whose booking (scenarios/smoke/, scenarios/security/)",
    "booking_service/flows/callers.py": "who may cancel/reschedule whose booking; told-matches-booked attendee",
    "booking_service/flows/appointments.py": "what the service's read API shows (scenarios/consistency/)",
    "booking_service/flows/reconcile.py": "reconciliation of bookings changed outside the service (scenarios/consistency/)",
    "booking_service/flows/imports.py": "reconciliation / webhooks importing outside bookings (scenarios/webhooks/test_outside_bookings.py)",
    "booking_service/flows/webhooks.py": "webhook authentication edges and duplicates (scenarios/webhooks/, scenarios/security/test_webhook_forgery.py)",
    "booking_service/flows/refusals.py": "clear answers: the exact refusal, also when the DB refuses a duplicate (clear-answers)",
    "booking_service/flows/answers.py": "clear answers: what a caller is told (told-matches-booked, clear-answers)",
    "booking_service/flows/requests.py": "clear answers to malformed requests (scenarios/security/, clear-answers)",
    "booking_service/calcom/client.py": "ambiguous create + retry, rate limits (scenarios/resilience/)",
    "booking_service/calcom/circuit.py": "circuit breaker (scenarios/resilience/test_circuit_breaker.py)",
    "booking_service/calcom/backoff.py": "rate limits and retries (scenarios/resilience/test_rate_limits.py)",
    "booking_service/calcom/errors.py": "upstream failures and their answers (scenarios/resilience/test_upstream_failures.py)",
    "booking_service/calcom/models.py": "told-matches-booked: what Cal.com's answer is read as",
    "booking_service/german_datetime.py": "German dates and times; Europe/Berlin summer and winter time (told-matches-booked)",
    "booking_service/tenants.py": "tenant isolation and per-practice zone/event type (scenarios/security/test_tenant_isolation.py)",
}


#: Survivors no test from outside can kill: the mutant behaves as the original for every caller,
#: Cal.com and the read API (they are reported apart and left out of the score). Names hold for
#: the source they were judged on; a changed function gets new mutants, judged afresh.
EQUIVALENT: dict[str, str] = {
    "booking_service.flows.answers.x_answer__mutmut_1":
        "the default of `pending` is never used: every booked answer passes it (flows/booking._booked)",
    "booking_service.flows.answers.x_slot_json__mutmut_9":
        "format_datum's default zone is Europe/Berlin, every practice's zone",
    "booking_service.flows.appointments.x_appointment_by_uid__mutmut_8":
        "with the unique constraint on (every scenario but its own ablation) a uid has one row",
    "booking_service.flows.availability.x__check__mutmut_23":
        "required=None is as falsy as required=False",
    "booking_service.flows.changes.x__reschedule_holding_slot__mutmut_57":
        "a log line's format only",
    "booking_service.flows.requests.xǁRetellRequestǁrequired__mutmut_11":
        "unreachable: text(required=True) raises the refusal with its reason first",
    "booking_service.flows.slots.x_slot_lock_refusal__mutmut_3": "a log line's text only",
    "booking_service.flows.imports.x_insert_imported__mutmut_18":
        "same_name(caller, '') and same_name(caller, 'XXXX') are both false: a caller's name has letters",
    "booking_service.flows.imports.x_insert_imported__mutmut_71":
        "booking_details is stored, never shown by the read API or sent anywhere",
    "booking_service.calcom.errors.xǁCalcomRequestErrorǁ__init____mutmut_1":
        "the exception's text only (decisions read .status and .message)",
    "booking_service.calcom.errors.xǁCalcomServerErrorǁ__init____mutmut_1":
        "the exception's text only (decisions read .status and .message)",
    "booking_service.calcom.models.xǁUpstreamBookingǁfrom_api__mutmut_62":
        "Cal.com's numeric booking id is kept for logs; the uid is what everything keys on",
    "booking_service.german_datetime.x__without_year__mutmut_38":
        "the text only goes into the parse error's message (logged, never answered)",
    "booking_service.german_datetime.x_parse_time__mutmut_259":
        "the text only goes into the parse error's message (logged, never answered)",
    "booking_service.tenants.x__validate_company__mutmut_7":
        "an operator's tenants-file error message, not reachable through the voice API",
    "booking_service.flows.upstream.x_reschedule_booking__mutmut_27":
        "the endpoint label of metrics and logs only",
}


@dataclass
class Mutant:
    name: str
    module: str
    status: str
    diff: str = ""
    tests: list[str] = field(default_factory=list)

    @property
    def function(self) -> str:
        return self.name.rsplit("__mutmut_", 1)[0]


# -- selection ---------------------------------------------------------------------------------


def module_files(selected: list[str]) -> list[str]:
    """The ``.py`` files (repository-relative) that the ``--module`` arguments name."""
    files: list[str] = []
    for item in selected:
        path = (ROOT / item).resolve()
        found = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in found:
            rel = f.relative_to(ROOT).as_posix()
            if f.name != "__init__.py" and rel not in files:
                files.append(rel)
    return files


def module_of(mutant_name: str) -> str:
    """``booking_service.flows.booking.x_collect__mutmut_3`` → ``booking_service/flows/booking.py``."""
    dotted = mutant_name.split(".x_", 1)[0].split(".xǁ", 1)[0]
    return dotted.replace(".", "/") + ".py"


def evenly_spaced(names: list[str], limit: int | None) -> list[str]:
    """``limit`` names spread evenly over ``names`` (all of them without a limit): the same
    sample every run, covering every function rather than the first few."""
    if limit is None or limit >= len(names):
        return list(names)
    if limit <= 0:
        return []
    step = len(names) / limit
    return [names[int(i * step)] for i in range(limit)]


def mutant_order(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number) if number.isdigit() else 0


# -- workspace ---------------------------------------------------------------------------------


def mutmut_config(files: list[str], tests: str, timeout_multiplier: float) -> str:
    """The ``[tool.mutmut]`` section for this run (appended to the project's pyproject)."""
    also = [e for e in PROJECT_ENTRIES if e != "booking_service"]
    lines = [
        "", "[tool.mutmut]",
        'source_paths = ["booking_service"]',
        f"only_mutate = {json.dumps(files)}",
        f"also_copy = {json.dumps(also)}",
        # One process per mutant (mutmut forks); xdist would hide which test ran what.
        'pytest_add_cli_args = ["-n", "0", "-p", "no:randomly", "-q", "-x"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(TEST_COMMANDS[tests])}",
        f"timeout_multiplier = {timeout_multiplier}",
        # The cache is ours: re-measure survivors when the tests change, nothing else.
        "use_git_change_detection = false",
    ]
    return "\n".join(lines) + "\n"


def fingerprint(tests: str) -> str:
    """A hash of every file the test command's verdicts depend on (besides the mutants)."""
    digest = hashlib.sha256()
    for entry in TEST_INPUTS[tests]:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" not in f.parts:
                digest.update(f.relative_to(ROOT).as_posix().encode())
                digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def prepare(work: Path, files: list[str], tests: str, timeout_multiplier: float) -> None:
    """Lay out the workspace: links to the project, its pyproject plus our mutmut section, and a
    fresh copy of the tests in ``mutants/`` (the mutated ``booking_service`` copy is kept)."""
    work.mkdir(parents=True, exist_ok=True)
    for entry in PROJECT_ENTRIES:
        link = work / entry
        if not link.is_symlink():
            link.symlink_to(ROOT / entry)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (work / "pyproject.toml").write_text(text + mutmut_config(files, tests, timeout_multiplier),
                                         encoding="utf-8")
    mutants = work / "mutants"
    for rel in files:
        # mutmut mutates a file only when its copy is missing or older than the source: a module
        # newly selected in an existing workspace has an unmutated copy of the same age.
        if not (mutants / (rel + ".meta")).exists():
            (mutants / rel).unlink(missing_ok=True)
    for entry in PROJECT_ENTRIES:
        if entry != "booking_service":
            target = mutants / entry
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            if mutants.exists():  # the tests as they are now (mutmut copies them only when it runs)
                source = ROOT / entry
                if source.is_dir():
                    shutil.copytree(source, target,
                                    ignore=shutil.ignore_patterns("__pycache__"))
                elif source.exists():
                    shutil.copy2(source, target)
    stamp = work / "tests.fingerprint"
    now = fingerprint(tests)
    rerun_needed = stamp.exists() and stamp.read_text() != now
    if rerun_needed:
        rerun = forget(mutants, ("survived", "timeout", "no tests"))
        (mutants / "mutmut-stats.json").unlink(missing_ok=True)  # which tests run what changed
        (work / "rechecked.json").unlink(missing_ok=True)
        print(f"tests changed: {rerun} survivors / time-outs will be measured again")
    stamp.write_text(now)


def meta_files(work: Path) -> list[Path]:
    return sorted((work / "mutants" / "booking_service").rglob("*.py.meta"))


def forget(mutants: Path, statuses: tuple[str, ...]) -> int:
    """Clear cached results with these statuses, so the next run measures them again."""
    count = 0
    for meta in sorted((mutants / "booking_service").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        for key, code in data["exit_code_by_key"].items():
            if code is not None and STATUS.get(code, "suspicious") in statuses:
                data["exit_code_by_key"][key] = None
                count += 1
        meta.write_text(json.dumps(data, indent=4))
    return count


def results(work: Path) -> dict[str, int | None]:
    """Every generated mutant's cached exit code (``None``: not run yet)."""
    codes: dict[str, int | None] = {}
    for meta in meta_files(work):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def mutmut(work: Path, args: list[str], deadline: float, log: Path) -> int:
    """Run mutmut in the workspace until it ends or the deadline passes (its results are saved
    per mutant, so a stopped run loses only the mutants in flight)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ mutmut {' '.join(args[:8])}{' …' if len(args) > 8 else ''}\n")
        out.flush()
        proc = subprocess.Popen([sys.executable, "-m", "mutmut", *args], cwd=work, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
            print("time is up: the run stopped (results so far are kept)")
            return -1


def recheck(work: Path, tests: str, names: list[str], limit: int, deadline: float) -> int:
    """Survivors that mutmut ran against fewer than `limit` tests, run again against the whole
    test command (``MUTANT_UNDER_TEST`` picks the mutant in mutmut's trampolines).

    mutmut credits a function to the tests during which it ran; what runs once per process —
    the session's embedded stack is built in the first scenario — is credited to that scenario
    alone, so such a mutant "survives" scenarios that were never run against it. A kill here
    is recorded in mutmut's cache like any other; a survivor is remembered (``rechecked.json``)
    until the tests change."""
    mutants = work / "mutants"
    stats = json.loads((mutants / "mutmut-stats.json").read_text())["tests_by_mangled_function_name"]
    seen_path = work / "rechecked.json"
    seen: dict[str, str] = json.loads(seen_path.read_text()) if seen_path.exists() else {}
    codes = results(work)
    killed = 0
    for name in names:
        function = name.rsplit("__mutmut_", 1)[0]
        if (codes.get(name) != 0 or name in seen or name in EQUIVALENT
                or len(stats.get(function, ())) >= limit):
            continue
        left = deadline - time.monotonic()
        if left < 60:
            break
        env = {**os.environ, "MUTANT_UNDER_TEST": name, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:randomly",
                                   "-q", "-x", *TEST_COMMANDS[tests]], cwd=mutants, env=env,
                                  capture_output=True, timeout=min(left, 600), check=False)
            outcome = "killed" if proc.returncode == 1 else "survived"
        except subprocess.TimeoutExpired:
            outcome = "timeout"
        seen[name] = outcome
        seen_path.write_text(json.dumps(seen, indent=2, ensure_ascii=False))
        if outcome == "killed":
            killed += 1
            for meta in meta_files(work):
                data = json.loads(meta.read_text())
                if name in data["exit_code_by_key"]:
                    data["exit_code_by_key"][name] = 1
                    meta.write_text(json.dumps(data, indent=4))
        print(f"recheck {name}: {outcome}")
    return killed


# -- report ------------------------------------------------------------------------------------


def collect(work: Path, selected: list[str], files: list[str]) -> list[Mutant]:
    """The selected mutants with their status, and for survivors the diff and covering tests."""
    codes = results(work)
    stats_path = work / "mutants" / "mutmut-stats.json"
    covering = (json.loads(stats_path.read_text())["tests_by_mangled_function_name"]
                if stats_path.exists() else {})
    found: list[Mutant] = []
    for name in selected:
        code = codes.get(name)
        status = "not run" if code is None else STATUS.get(code, "suspicious")
        if status in ("survived", "no tests") and name in EQUIVALENT:
            status = "equivalent"
        found.append(Mutant(name, module_of(name), status))
    survivors = [m for m in found if m.status in ("survived", "no tests", "equivalent")]
    if survivors:
        here = Path.cwd()
        os.chdir(work)
        try:
            from mutmut.mutation.diff_apply import get_diff_for_mutant
            for m in survivors:
                try:
                    m.diff = get_diff_for_mutant(m.name)
                except Exception as error:  # a diff we cannot show must not lose the report
                    m.diff = f"(no diff: {error})"
                m.tests = sorted(covering.get(m.function, []))
        finally:
            os.chdir(here)
    return [m for m in found if m.module in files]


def summary(mutants: list[Mutant]) -> dict[str, dict[str, int]]:
    """Per module (and ``total``): how many mutants had each status, and the score."""
    by_module: dict[str, Counter[str]] = {}
    for m in mutants:
        by_module.setdefault(m.module, Counter())[m.status] += 1
    table: dict[str, dict[str, int]] = {}
    total: Counter[str] = Counter()
    for module in sorted(by_module):
        table[module] = dict(by_module[module])
        total.update(by_module[module])
    table["total"] = dict(total)
    return table


def score(counts: dict[str, int]) -> float | None:
    """Killed (time-outs count as kills, as mutmut counts them) over all run mutants that are
    not equivalent."""
    judged = sum(counts.get(s, 0) for s in ("killed", "timeout", "survived", "no tests",
                                           "suspicious"))
    if not judged:
        return None
    return 100.0 * (counts.get("killed", 0) + counts.get("timeout", 0)) / judged


def write_report(out: Path, tests: str, mutants: list[Mutant], meta: dict[str, Any]) -> Path:
    """``<tests>.json`` and ``<tests>.md`` under ``out``; returns the Markdown file."""
    out.mkdir(parents=True, exist_ok=True)
    table = summary(mutants)
    data = {
        "tests": tests, **meta,
        "summary": {k: {**v, "score": score(v)} for k, v in table.items()},
        "survivors": [{"name": m.name, "module": m.module, "area": AREAS.get(m.module, "?"),
                       "diff": m.diff, "tests_that_ran_it": m.tests}
                      for m in mutants if m.status in ("survived", "no tests")],
        "equivalent": {m.name: EQUIVALENT.get(m.name, "") for m in mutants
                       if m.status == "equivalent"},
        "mutants": {m.name: m.status for m in mutants},
    }
    (out / f"{tests}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    lines = [f"# Mutation report — test command: {tests}", "",
             f"{meta.get('command', '')}", "",
             "| module | killed | survived | timeout | no tests | equivalent | not run | score |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for module, counts in table.items():
        s = score(counts)
        lines.append(f"| {module} | {counts.get('killed', 0)} | {counts.get('survived', 0)} | "
                     f"{counts.get('timeout', 0)} | {counts.get('no tests', 0)} | "
                     f"{counts.get('equivalent', 0)} | {counts.get('not run', 0)} | "
                     f"{'-' if s is None else f'{s:.1f} %'} |")
    equivalent = [m for m in mutants if m.status == "equivalent"]
    lines += ["", f"## Equivalent survivors ({len(equivalent)})", ""]
    lines += [f"- `{m.name}` — {EQUIVALENT[m.name]}" for m in equivalent]
    survivors = data["survivors"]
    lines += ["", f"## Survivors ({len(survivors)})", ""]
    for sv in survivors:
        ran = sv["tests_that_ran_it"]
        lines += [f"### `{sv['name']}`", "", f"Should have been caught by: {sv['area']}.",
                  (f"Ran by {len(ran)} test(s), e.g. `{ran[0]}`." if ran
                   else "No test ran this function."), "", "```diff", sv["diff"], "```", ""]
    md = out / f"{tests}.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md


# -- command -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", default=None,
                        help="a module or folder under booking_service/ (repeatable; default: "
                             + ", ".join(DEFAULT_MODULES) + ")")
    parser.add_argument("--tests", choices=sorted(TEST_COMMANDS), default="scenarios")
    parser.add_argument("--max-mutants", type=int, default=None,
                        help="at most this many mutants per module, evenly spaced (default all)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="wall-clock bound of the whole run in seconds (default 3600)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--timeout-multiplier", type=float, default=5.0,
                        help="a mutant times out past this many times its tests' clean time")
    parser.add_argument("--work", type=Path, default=None,
                        help="workspace (default build/mutation/<tests>)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "out" / "mutation")
    parser.add_argument("--recheck-below", type=int, default=None,
                        help="run survivors that mutmut ran against fewer tests than this "
                             "against the whole test command (0: never; default 3 for the "
                             "scenarios, 0 for the unit tests)")
    parser.add_argument("--report-only", action="store_true",
                        help="write the report from the cache without running anything")
    args = parser.parse_args(argv)

    files = module_files(args.module or list(DEFAULT_MODULES))
    work: Path = args.work or ROOT / "build" / "mutation" / args.tests
    log = work / "mutmut.log"
    started = time.monotonic()
    deadline = started + args.timeout
    if not args.report_only:
        prepare(work, files, args.tests, args.timeout_multiplier)
        if not meta_files(work) or not (work / "mutants" / "mutmut-stats.json").exists():
            # Generate the mutants and record which tests run each function; the name matches
            # no mutant, so mutmut stops right after (with an error we expect).
            print("generating mutants and collecting which tests run what …")
            mutmut(work, ["run", "--max-children", str(args.jobs), "no-such-mutant"],
                   deadline, log)
    codes = results(work)
    per_module: dict[str, list[str]] = {}
    for name in codes:
        per_module.setdefault(module_of(name), []).append(name)
    selected: list[str] = []
    for module in files:
        names = sorted(per_module.get(module, []), key=mutant_order)
        selected += evenly_spaced(names, args.max_mutants)
    todo = [n for n in selected if codes.get(n) is None]
    print(f"{len(selected)} mutants selected in {len(files)} module(s), {len(todo)} to run")
    if todo and not args.report_only:
        mutmut(work, ["run", "--max-children", str(args.jobs), *todo], deadline, log)
    below = args.recheck_below if args.recheck_below is not None else (
        3 if args.tests == "scenarios" else 0)
    if below and not args.report_only:
        recheck(work, args.tests, selected, below, deadline)
    wall = time.monotonic() - started
    command = ("python benchmarks/mutation.py " + " ".join(argv if argv is not None
                                                           else sys.argv[1:])).strip()
    mutants = collect(work, selected, files)
    md = write_report(args.out, args.tests, mutants,
                      {"command": command, "modules": files, "max_mutants": args.max_mutants,
                       "ran": len(todo), "wall_seconds": round(wall, 1)})
    total = summary(mutants)["total"]
    s = score(total)
    print(f"{args.tests}: {total} score {'-' if s is None else f'{s:.1f} %'}; "
          f"{len(todo)} run in {wall:.0f} s; report {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
