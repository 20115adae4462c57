"""The pytest plugin (as another repository would use it) and `python -m fake_calcom`."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp

from fake_calcom.backend.seed_data import default_seed_data

INNER_TESTS = '''
import json
import sys
import threading
import urllib.request


def test_a_run_that_does_not_ask_for_the_fake_does_not_start_it():
    assert "fake_calcom.server" not in sys.modules
    assert "aiohttp" not in sys.modules
    assert not [t for t in threading.enumerate() if t.name == "fake-calcom"]


def test_first_test_books(fake_calcom):
    booking = fake_calcom.control.take_slot(
        2001, "2030-01-07T09:00:00Z", {"name": "A", "email": "a@example.com"})
    assert booking["status"] == "accepted"
    fake_calcom.control.add_fault({"match": {"path": "/v2/me"}, "action": {"kind": "status", "status": 503}})
    fake_calcom.control.freeze("2030-01-01T00:00:00Z")


def test_second_test_gets_a_reset_fake(fake_calcom):
    assert fake_calcom.control.state()["bookings"] == []
    assert fake_calcom.control.faults()["faults"] == []
    assert fake_calcom.control.clock()["frozen"] is False
    request = urllib.request.Request(fake_calcom.url + "/v2/me", headers=fake_calcom.headers())
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["data"]["id"] == 101
'''


def test_the_plugin_gives_other_repositories_a_reset_fake(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_uses_fake.py").write_text(textwrap.dedent(INNER_TESTS))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = "import sys, fake_calcom.pytest_plugin; print(sorted(m for m in ('aiohttp', 'rich', 'fake_calcom.wire') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert output.stdout.strip() == "[]"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fake_calcom", *args], capture_output=True, text=True, timeout=60)


def test_help_explains_the_options() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--port", "--seed", "--faults", "--no-rate-limit", "--seed-data", "--no-journal", "127.0.0.1"):
        assert option in result.stdout


def test_bad_files_give_a_clear_error_and_no_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "plan.json"
    broken.write_text("{not json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"faults": [{"action": {"kind": "explode"}}]}))
    bad_seed = tmp_path / "seed.json"
    bad_seed.write_text(json.dumps({"hosts": [{"id": 1}]}))
    for args, message in (
        (("--faults", str(tmp_path / "missing.json")), "not found"),
        (("--faults", str(broken)), "is not JSON"),
        (("--faults", str(wrong)), "unknown action kind"),
        (("--seed-data", str(bad_seed)), "missing 'timeZone'"),
        (("--freeze", "soon"), "ISO-8601"),
        (("--port", "99999"), "port must be 0-65535"),
        (("--host", "203.0.113.1"), "cannot listen"),
    ):
        result = run_cli("--port", "0", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr


async def test_the_cli_prints_its_seed_data_and_serves(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(default_seed_data()))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"faults": [{"name": "down", "match": {"path": "/v2/slots"}, "action": {"kind": "status", "status": 503}}]}))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fake_calcom", "--port", "0", "--seed", "3", "--faults", str(plan),
        "--seed-data", str(seed), "--no-rate-limit", "--freeze", "2025-10-06T09:40:00Z",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        printed = []
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
            assert line, "the CLI exited before listening"
            printed.append(line)
            if "listening on" in line:
                break
        text = "".join(printed)
        assert "cal_live_calharness_anna" in text
        assert "teamtermin" in text
        assert "Anna Becker" in text
        url = line.split("listening on ")[1].split()[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/v2/me", headers={"Authorization": "Bearer cal_live_calharness_ben"}) as response:
                assert response.status == 200
                assert (await response.json())["data"]["id"] == 102
                assert "X-RateLimit-Limit-Default" not in response.headers
            async with session.get(url + "/v2/slots", headers={"cal-api-version": "2024-09-04"}) as response:
                assert response.status == 503
            async with session.get(url + "/_fake/clock") as response:
                assert (await response.json())["now"] == "2025-10-06T09:40:00.000Z"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
