"""`calharness explore` as a user runs it, and the reproducers it writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scenarios.explore.explorer import Step
from scenarios.explore.machine import Failure
from scenarios.explore.reproducer import render_pytest, render_text, write_pytest


def _calharness(*args: str, cwd: Path | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calharness.cli", "explore", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


FAILURE = Failure(
    steps=[Step("outside_take", {"slot": 0, "service": "Teamtermin", "name": 0, "age": 0,
                                 "earlier_call": False}),
           Step("book", {"slot": 0, "service": "Teamtermin", "name": 0})],
    error="scenarios.explore.explorer.InvariantViolated: invariants violated:\n"
          "no-stolen-booking: 1 violation(s)\n  [stolen-booking] call call_0001 …",
    kind="InvariantViolated", seed=7, defenses_off=("freshness",))


def test_help_explains_the_options() -> None:
    result = _calharness("--help", timeout=60)
    assert result.returncode == 0, result.stderr
    for option in ("--examples", "--steps", "--seed", "--defense-off", "--sweep", "--found-dir"):
        assert option in result.stdout


def test_bad_input_is_a_clear_usage_error() -> None:
    result = _calharness("--examples", "0", timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("calharness explore: error: --examples and --steps must "
                                     "be at least 1")
    result = _calharness("--defense-off", "slot_lok", timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("calharness explore: error: --defense-off: unknown "
                                    "defense slot_lok; known: freshness")


def test_a_short_run_with_every_defense_on_finds_nothing(tmp_path: Path) -> None:
    result = _calharness("--examples", "3", "--steps", "4", "--seed", "11", "--no-example-db",
                         "--found-dir", str(tmp_path / "found"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "seed 11" in result.stdout
    assert "no failure" in result.stdout
    assert not (tmp_path / "found").exists()


def test_a_failure_is_shrunk_printed_and_written_as_a_scenario(tmp_path: Path) -> None:
    """availability_double_check off: with Cal.com overbooking, a caller is booked into a slot
    its host already holds (the CI sweep finds it in the sixth example; the drop-steps shrinker
    keeps the run to seconds — Hypothesis's own shrinker is the same code, given minutes)."""
    found = tmp_path / "found"
    result = _calharness("--defense-off", "availability_double_check", "--examples", "40",
                         "--steps", "12", "--seed", "0", "--no-example-db", "--fast-shrink",
                         "--found-dir", str(found))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "host-slot-exclusive" in result.stdout
    assert "arm(" in result.stdout
    assert "overbook" in result.stdout
    assert "calharness explore --seed 0 --defense-off availability_double_check" in result.stdout
    [written] = found.glob("test_found_*.py")
    text = written.read_text()
    compile(text, str(written), "exec")
    assert '@pytest.mark.defense(\'availability_double_check\')' in text


def test_reproducer_text_numbers_the_steps() -> None:
    text = render_text(FAILURE)
    assert "seed 7, defenses off: freshness" in text
    assert "1. outside_take(" in text
    assert '2. book(slot=0, service="Teamtermin", name=0)' in text


def test_reproducer_file_is_a_tagged_replay(tmp_path: Path) -> None:
    source = render_pytest(FAILURE)
    compile(source, "reproducer.py", "exec")
    assert "replay(world, STEPS)" in source
    assert "@pytest.mark.defense('freshness')" in source
    first = write_pytest(FAILURE, tmp_path)
    second = write_pytest(FAILURE, tmp_path)
    assert first.name == "test_found_freshness_no_stolen_booking.py"
    assert second.name == "test_found_freshness_no_stolen_booking_2.py"
    assert (tmp_path / "__init__.py").exists()
