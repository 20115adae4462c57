"""`calharness verify --target FILE` against a deployment running in other processes.

The "staging" here is the fake Cal.com and the booking service started as separate OS processes,
the way a team would run them; the harness only gets their URLs from a target file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.target import TargetError, load_target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(cmd: list[str], ready: str) -> tuple[subprocess.Popen[str], str]:
    """Start a server and read its output until it says it is ready (no polling)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if ready in line:
            return proc, line
    proc.kill()
    raise AssertionError(f"{cmd[2]} exited before it was ready:\n{''.join(seen)}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("deployment")
    fake, line = _start([sys.executable, "-m", "fake_calcom", "--port", "0", "--no-rate-limit"],
                        "listening on")
    fake_url = line.split("listening on ")[1].split()[0]
    port = _free_port()
    service, _ = _start([sys.executable, "-m", "booking_service", "serve", "--port", str(port),
                         "--calcom-url", fake_url,
                         "--database-url", f"sqlite:///{tmp / 'booking.sqlite3'}"],
                        "Running on")
    try:
        yield {"fake_url": fake_url, "service_url": f"http://127.0.0.1:{port}", "tmp": str(tmp)}
    finally:
        for proc in (service, fake):
            proc.terminate()
            proc.wait(timeout=10)


def _target_file(tmp: Path, deployment: dict[str, str], *, max_requests: int = 200) -> Path:
    path = tmp / "staging.toml"
    path.write_text(f'''
name = "local-staging"
service_url = "{deployment['service_url']}"
allow_booking = true
max_requests = {max_requests}
days_ahead = 20

[companies.primary]
api_key = "bs_demo_berlin"
phone = "+4930123456"

[companies.secondary]
api_key = "bs_demo_hamburg"
phone = "+4940987654"

[calcom]
control_url = "{deployment['fake_url']}"
''')
    return path


def _verify(target: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calharness.cli", "verify", "--target", str(target),
                           "--out", str(out), "--no-progress", "-k", "smoke"],
                          capture_output=True, text=True, timeout=300)


def test_black_box_subset_passes_against_a_deployment_and_cleans_up(
        deployment: dict[str, str], tmp_path: Path) -> None:
    target = _target_file(tmp_path, deployment)
    result = _verify(target, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "local-staging" in summary or "staging.toml" in summary
    # The run cancelled every appointment it booked: nothing of it stays active upstream.
    import json
    import urllib.request

    with urllib.request.urlopen(f"{deployment['fake_url']}/_fake/state") as resp:
        state = json.load(resp)
    mine = [b for b in state["bookings"] if str(b["metadata"].get("call_id", "")).startswith("calh")]
    assert mine, "the run should have booked through the deployment"
    assert all(b["status"] == "cancelled" for b in mine), [(b["uid"], b["status"]) for b in mine]


def test_request_budget_stops_the_run(deployment: dict[str, str], tmp_path: Path) -> None:
    target = _target_file(tmp_path, deployment, max_requests=3)
    result = _verify(target, tmp_path / "out")
    assert result.returncode != 0
    log = (tmp_path / "out" / "pytest.log").read_text()
    assert "request budget of 3 reached" in log


def test_target_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('service_url = "ftp://nope"\n[companies.primary]\napi_key = "k"\n')
    with pytest.raises(TargetError, match="service_url must be an http"):
        load_target(bad)
    bad.write_text('service_url = "http://x"\nsurprise = 1\n')
    with pytest.raises(TargetError, match="unknown setting"):
        load_target(bad)
    bad.write_text('service_url = "http://x"\n')
    with pytest.raises(TargetError, match=r"\[companies.primary\] is required"):
        load_target(bad)
