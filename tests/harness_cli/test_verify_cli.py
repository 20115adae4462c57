"""`calharness` as a user runs it: help, a passing verify, a failing one, an ablation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from calharness.cli import COMMANDS, main


def _calharness(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calharness.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_help_lists_every_command(capsys: object) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    for name in COMMANDS:
        assert name in out


def test_each_command_explains_its_options() -> None:
    for name in ("verify", "ablate", "serve"):
        result = _calharness(name, "--help", timeout=60)
        assert result.returncode == 0, result.stderr
        assert "--" in result.stdout
        assert "usage: calharness " + name in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = _calharness("verfiy", timeout=60)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_verify_passes_and_writes_reports(tmp_path: Path) -> None:
    result = _calharness("verify", "-k", "smoke", "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout
    expected = "database: MariaDB" if os.environ.get("HARNESS_MYSQL_URL") else "database: SQLite"
    assert expected in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is True
    assert summary["counts"]["passed"] >= 3
    for name in ("summary.md", "report.html", "junit.xml"):
        assert (tmp_path / name).stat().st_size > 0


def test_verify_fails_with_a_defense_off_and_names_the_violation(tmp_path: Path) -> None:
    # Without tenant isolation, company B's key reads company A's appointment.
    result = _calharness("verify", "-k", "tenant", "--defense-off", "tenant_isolation",
                         "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is False
    kinds = {v["kind"] for check in summary["checks"] for v in check["violations"]}
    assert "tenant-leak" in kinds or any(
        "404" in (s["failure"] or "") for s in summary["scenarios"] if s["outcome"] == "failed")


def test_verify_with_nothing_selected_is_not_a_pass(tmp_path: Path) -> None:
    result = _calharness("verify", "-k", "no_such_scenario_anywhere", "--out", str(tmp_path),
                         "--no-progress")
    assert result.returncode != 0
    assert "nothing was verified" in (tmp_path / "summary.md").read_text()


def test_ablate_one_defense_prints_the_matrix(tmp_path: Path) -> None:
    result = _calharness("ablate", "--defense", "tenant_isolation", "-k", "tenant",
                         "--out", str(tmp_path), "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tenant_isolation" in result.stdout
    assert "yes" in result.stdout
    matrix = json.loads((tmp_path / "ablation" / "matrix.json").read_text())
    assert matrix[0]["defense"] == "tenant_isolation"
    assert matrix[0]["detected"] is True
