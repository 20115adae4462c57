"""Misuse of serve, load and the service's own CLI: one line naming the problem, exit 2, nothing
started or written (verify's own are in test_verify_usage_errors.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_serve_refuses_an_unknown_defense() -> None:
    result = run("calharness", "serve", "--defense-off", "nosuch")
    assert result.returncode == 2
    assert one_line(result).startswith(
        "calharness serve: error: --defense-off: unknown defense nosuch; known: freshness")


def test_serve_needs_processes_for_another_service() -> None:
    result = run("calharness", "serve", "--service", "rest-naive")
    assert result.returncode == 2
    assert one_line(result) == ("calharness serve: error: --service and --no-test-control "
                                "need --processes")


def test_the_services_own_serve_refuses_an_unknown_defense() -> None:
    result = run("booking_service", "serve", "--defense-off", "freshness,nosuch")
    assert result.returncode == 2
    assert one_line(result).startswith("error: unknown defense name(s): nosuch; known:")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_load_refuses_a_taken_master_port(taken_port: int, tmp_path: Path) -> None:
    out = tmp_path / "load-out"
    result = run("calharness", "load", "--profile", "smoke", "--workers", "1",
                 "--master-port", str(taken_port), "--out", str(out))
    assert result.returncode == 2
    assert one_line(result) == (f"calharness load: --master-port: 127.0.0.1:{taken_port} is "
                                "taken (Address already in use); choose a free port or leave "
                                "it out")
    assert not out.exists()


def test_load_refuses_an_unknown_profile(tmp_path: Path) -> None:
    result = run("calharness", "load", "--profile", "nosuchprofile", "--out",
                 str(tmp_path / "load-out"))
    assert result.returncode == 2
    assert one_line(result).startswith("calharness load: --profile: 'nosuchprofile' is neither")


def test_explore_takes_the_database_option_of_every_command(tmp_path: Path) -> None:
    result = run("calharness", "explore", "--db", f"sqlite:///{tmp_path / 'x.db'}",
                 "--examples", "0")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "note: --db is deprecated; use --database-url",
        "calharness explore: error: --examples and --steps must be at least 1"]


@pytest.mark.parametrize(("profile", "message"), [
    ('{"name": "x", "users": "many"}', "users: expected a whole number, got 'many'"),
    ('{"name": "x", "usres": 3}', "unknown field(s) usres; known:"),
])
def test_load_names_the_profile_field_it_cannot_use(profile: str, message: str,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(profile)
    result = run("calharness", "load", "--profile", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert one_line(result).startswith(
        f"calharness load: --profile {path}: not a usable profile: {message}")
    assert not (tmp_path / "out").exists()
