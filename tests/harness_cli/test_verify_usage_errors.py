"""`calharness verify` refuses bad input before anything starts: one line on stderr naming the
problem, exit 2, and the `--out` directory neither created nor touched.

The main mistakes run the command as a user does (`python -m calharness verify …`); their
variations go through `calharness.cli.main` in this process (the same code path, without a
second of interpreter start-up each). The "service" that answers is a tiny HTTP server in this
process that knows nothing of the protocol (404 for every path).
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from booking_service.defenses import DEFENSE_NAMES
from calharness.cli import main
from calharness.commands.options import UsageError, defenses_off, min_ran, port

PREFIX = "calharness verify: error: "
KNOWN_DEFENSES = ", ".join(DEFENSE_NAMES)
COMPANY = '[companies.primary]\napi_key = "bs_demo_berlin"\nphone = "+4930123456"\n'


def verify(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calharness", "verify", *args, "--out", str(out),
                           "--no-progress", "-k", "smoke"],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def inline(capsys: pytest.CaptureFixture[str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`verify` through `calharness.cli.main` in this process, answering like `verify`."""

    def run(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = main(["verify", *args, "--out", str(out), "--no-progress", "-k", "smoke"])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    return run


Verify = Callable[..., subprocess.CompletedProcess[str]]


def assert_refused(result: subprocess.CompletedProcess[str], out: Path, message: str) -> None:
    """Exit 2, exactly one line on stderr (which starts with `message`), nothing written."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(PREFIX + message), lines[0]
    assert not out.exists()


class _NotThisProtocol(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"error": "not found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def answering() -> Iterator[str]:
    """A URL that answers HTTP (404 for everything): a service, but not one with test control."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotThisProtocol)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port_ = sock.getsockname()[1]
    return f"http://127.0.0.1:{port_}"


def target_file(tmp_path: Path, text: str, name: str = "target.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the target file --------------------------------------------------------------------------------


def test_a_target_file_that_is_not_toml(tmp_path: Path) -> None:
    path = target_file(tmp_path, 'service_url = "http://x\n')
    out = tmp_path / "out"
    assert_refused(verify("--target", str(path), out=out), out,
                   f"--target: {path} is not valid TOML: ")


def test_a_target_file_with_an_unknown_key(tmp_path: Path) -> None:
    path = target_file(tmp_path, 'service_url = "http://127.0.0.1:1"\nsurprise = 1\n' + COMPANY)
    out = tmp_path / "out"
    assert_refused(verify("--target", str(path), out=out), out,
                   f"--target: {path}: unknown setting(s) surprise; known: adapter, ")


def test_a_target_file_with_an_unknown_key_in_a_table(inline: Verify, tmp_path: Path) -> None:
    path = target_file(tmp_path, 'service_url = "http://127.0.0.1:1"\n' + COMPANY
                       + '[test_control]\ntoken = "t"\nurll = "http://x"\n')
    out = tmp_path / "out"
    assert_refused(inline("--target", str(path), out=out), out,
                   f"--target: {path}: [test_control]: unknown setting(s) urll; known: ")


def test_a_target_file_without_service_url(tmp_path: Path) -> None:
    path = target_file(tmp_path, COMPANY)
    out = tmp_path / "out"
    assert_refused(verify("--target", str(path), out=out), out,
                   f"--target: {path}: service_url is required (the booking service's base URL)")


def test_a_target_file_that_does_not_exist(inline: Verify, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_refused(inline("--target", str(tmp_path / "nope.toml"), out=out), out,
                   f"--target: target file not found: {tmp_path / 'nope.toml'}")


def test_a_target_whose_service_does_not_answer(tmp_path: Path) -> None:
    dead = dead_url()
    path = target_file(tmp_path, f'service_url = "{dead}"\nallow_booking = true\n' + COMPANY)
    out = tmp_path / "out"
    assert_refused(verify("--target", str(path), out=out), out,
                   f"--target: {dead} does not answer (")


def test_a_target_whose_test_control_does_not_speak_the_protocol(inline: Verify, tmp_path: Path,
                                                                 answering: str) -> None:
    path = target_file(tmp_path, f'name = "odd"\nservice_url = "{answering}"\n' + COMPANY
                       + '[test_control]\ntoken = "t"\n')
    out = tmp_path / "out"
    assert_refused(inline("--target", str(path), out=out), out,
                   f"--target: odd: test control at {answering} refused: test control GET "
                   "/_test -> 404: not found")


def test_allow_faults_at_a_dead_fake(inline: Verify, tmp_path: Path, answering: str) -> None:
    dead = dead_url()
    path = target_file(tmp_path, f'name = "faulty"\nservice_url = "{answering}"\n'
                       f'allow_faults = true\n[calcom]\ncontrol_url = "{dead}"\n' + COMPANY)
    out = tmp_path / "out"
    assert_refused(inline("--target", str(path), out=out), out,
                   f"--target: faulty: allow_faults, but the fake Cal.com's control plane at "
                   f"{dead} does not answer")


def test_defenses_off_and_ablate_need_a_target_with_test_control(inline: Verify, tmp_path: Path,
                                                                answering: str) -> None:
    path = target_file(tmp_path, f'service_url = "{answering}"\n' + COMPANY)
    out = tmp_path / "out"
    assert_refused(inline("--target", str(path), "--defense-off", "freshness", out=out), out,
                   "--defense-off needs a target whose test control can switch defenses "
                   "([test_control] in the target file)")
    assert_refused(inline("--target", str(path), "--ablate", out=out), out,
                   "--ablate needs a target whose test control can switch defenses and reset "
                   "([test_control] in the target file)")


# -- the other options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (("--defense-off", "nosuch"), f"--defense-off: unknown defense nosuch; known: {KNOWN_DEFENSES}"),
    (("--min-ran", "most"), "--min-ran: 'most' is neither a percentage (90%) nor a count (120)"),
    (("--workers", "0"), "--workers: at least 1"),
], ids=["defense", "min-ran", "workers"])
def test_bad_options(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out = tmp_path / "out"
    result = verify(*args, out=out)
    assert_refused(result, out, message)
    assert result.stderr == PREFIX + message + "\n"


@pytest.mark.parametrize(("args", "message"), [
    (("--defense-off", "freshness", "--defense-off", "slot_lock,nosuch,other"),
     f"--defense-off: unknown defense nosuch, other; known: {KNOWN_DEFENSES}"),
    (("--min-ran", "120%"), "--min-ran: '120%' is neither a percentage (90%) nor a count (120)"),
    (("--min-ran", "-1"), "--min-ran: '-1' is neither a percentage (90%) nor a count (120)"),
    (("--min-ran", "1.5"), "--min-ran: '1.5' is neither a percentage (90%) nor a count (120)"),
    (("--workers", "many"), "--workers: 'many' is neither a number nor 'auto'"),
], ids=["defenses", "min-ran-over", "min-ran-negative", "min-ran-fraction", "workers-word"])
def test_bad_option_variants(inline: Verify, tmp_path: Path, args: tuple[str, ...],
                             message: str) -> None:
    out = tmp_path / "out"
    result = inline(*args, out=out)
    assert_refused(result, out, message)
    assert result.stderr == PREFIX + message + "\n"


def test_an_existing_out_directory_is_left_as_it_was(inline: Verify, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"from": "the last run"}', encoding="utf-8")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}

    result = inline("--defense-off", "nosuch", out=out)

    assert result.returncode == 2
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


# -- the option parsers themselves ----------------------------------------------------------------------


def test_defenses_off_is_repeatable_and_takes_comma_lists() -> None:
    assert defenses_off(None) == ()
    assert defenses_off([]) == ()
    assert defenses_off(["freshness"]) == ("freshness",)
    assert defenses_off(["freshness, slot_lock", "tenant_isolation", ",", " freshness "]) == (
        "freshness", "slot_lock", "tenant_isolation")
    with pytest.raises(UsageError, match=r"^--defense-off: unknown defense Freshness; known: "):
        defenses_off(["Freshness"])


@pytest.mark.parametrize(("text", "value"), [
    (None, None), ("90%", 0.9), (" 90% ", 0.9), ("100%", 1.0), ("0%", 0.0), ("12.5%", 0.125),
    ("120", 120), ("0", 0),
])
def test_min_ran_is_a_share_or_a_count(text: str | None, value: float | int | None) -> None:
    parsed = min_ran(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize("text", ["", "%", "101%", "-5%", "ninety", "1e2", "2.0", "90%%"])
def test_min_ran_refuses_anything_else(text: str) -> None:
    with pytest.raises(UsageError) as error:
        min_ran(text)
    assert str(error.value) == (f"--min-ran: {text!r} is neither a percentage (90%) nor a count "
                                "(120)")


def test_ports_are_checked() -> None:
    assert port(None, "--port") is None
    assert port(8080, "--port") == 8080
    with pytest.raises(UsageError, match=r"^--port: 70000 is not a TCP port \(0-65535\)$"):
        port(70000, "--port")
