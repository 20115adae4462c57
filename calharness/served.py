"""The reference stack as separate processes: `python -m fake_calcom` and
`python -m booking_service serve` (optionally a second replica on the same database), on free
loopback ports, with a target file describing them.

This is what "out of process" means for the harness: nothing shared but HTTP and the database.
`calharness serve --processes` keeps one running for a person; tests and CI start one, point
`calharness verify --target` at its target file, and stop it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from calharness.load_support.processes import free_port
from harness.db import DatabaseChoice, choose_database
from harness.stack import demo_companies
from harness.target import Target, TargetCompany, target_toml

WEBHOOK_SECRET = "whsec_calharness_served"
TOKEN_ENV = "BOOKING_TEST_CONTROL_TOKEN"
START_TIMEOUT_S = 60.0


class StartError(RuntimeError):
    """A process of the stack did not come up (the message names it and its log)."""


#: What `ServedOptions.service` may name: the reference, or the REST example in one of its modes.
SERVICES = ("reference", "rest-naive", "rest-careful", "rest-careful-hold")
REST_ADAPTER = "examples.rest_booking.adapter:RestBookingAdapter"


@dataclass
class ServedOptions:
    service: str = "reference"
    database_url: str | None = None
    defenses_off: tuple[str, ...] = ()
    test_control: bool = True
    replica: bool | None = None  # default: when the database is MariaDB/MySQL
    calcom_timeout_s: float = 2.0
    rate_limit: bool = False
    seed: int = 0
    log_dir: Path | None = None
    #: Further booking-service `Settings` (a load profile's scaled waits); when set, the service
    #: runs under `calharness.load_support.service_process`, which takes them as JSON.
    service_settings: dict[str, Any] = field(default_factory=dict)
    journal: bool = True  # the fake's request journal (a load run switches it off)


@dataclass
class ServedStack:
    """Start with `start()` or as a context manager; `target` and `target_file` describe it."""

    options: ServedOptions = field(default_factory=ServedOptions)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    fake_url: str = ""
    service_url: str = ""
    replica_url: str | None = None
    database: DatabaseChoice | None = None
    log_dir: Path = Path()
    _processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> ServedStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        opts = self.options
        if opts.log_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="calharness-served-")
            self.log_dir = Path(self._tmp.name)
        else:
            self.log_dir = opts.log_dir
            self.log_dir.mkdir(parents=True, exist_ok=True)
        if opts.service not in SERVICES:
            raise StartError(f"unknown service {opts.service!r}; known: {', '.join(SERVICES)}")
        if opts.service == "reference":
            self.database = choose_database(opts.database_url, label="served",
                                            allow_docker=False)
        fake_port = free_port()
        self.fake_url = f"http://127.0.0.1:{fake_port}"
        fake_args = ["--port", str(fake_port), "--seed", str(opts.seed), "--quiet"]
        if not opts.rate_limit:
            fake_args.append("--no-rate-limit")
        if not opts.journal:
            fake_args.append("--no-journal")
        self._spawn("fake_calcom", [sys.executable, "-m", "fake_calcom", *fake_args])
        self._wait("fake_calcom", f"{self.fake_url}/_fake/healthz")
        if opts.service != "reference":
            self.service_url = self._serve_example(opts.service.removeprefix("rest-"))
            return
        self.service_url = self._serve_booking("booking_service", migrate=True)
        replica = opts.replica
        if replica is None:
            replica = self.database is not None and self.database.kind == "mariadb"
        if replica:
            self.replica_url = self._serve_booking("booking_service-replica", migrate=False)
        if not opts.test_control:
            # Nothing resets the fake in a black-box run: subscribe the service once, here.
            _post_json(f"{self.fake_url}/_fake/webhooks/subscribe",
                       {"subscriberUrl": f"{self.service_url}/api/webhooks/calcom",
                        "secret": WEBHOOK_SECRET})

    def _serve_booking(self, name: str, *, migrate: bool) -> str:
        assert self.database is not None
        port = free_port()
        if self.options.service_settings:
            settings = {"calcom_timeout_s": self.options.calcom_timeout_s,
                        **self.options.service_settings}
            argv = [sys.executable, "-m", "calharness.load_support.service_process",
                    "--port", str(port), "--database-url", self.database.url,
                    "--calcom-url", self.fake_url, "--webhook-secret", WEBHOOK_SECRET,
                    "--settings-json", json.dumps(settings)]
        else:
            argv = [sys.executable, "-m", "booking_service", "--log-level", "WARNING", "serve",
                    "--port", str(port), "--database-url", self.database.url,
                    "--calcom-url", self.fake_url, "--calcom-timeout",
                    f"{self.options.calcom_timeout_s:g}", "--webhook-secret", WEBHOOK_SECRET]
        if self.options.defenses_off:
            argv += ["--defense-off", ",".join(self.options.defenses_off)]
        if not migrate:
            argv.append("--no-migrate")
        env = dict(os.environ)
        env.pop(TOKEN_ENV, None)
        if self.options.test_control:
            env[TOKEN_ENV] = self.token
        self._spawn(name, argv, env=env)
        url = f"http://127.0.0.1:{port}"
        self._wait(name, f"{url}/healthz")
        return url

    def _serve_example(self, mode: str) -> str:
        """The REST example (examples/rest_booking) on its own SQLite file, in `mode`."""
        port = free_port()
        argv = [sys.executable, "-m", "examples.rest_booking", "--port", str(port),
                "--mode", mode.removesuffix("-hold"), "--calcom-url", self.fake_url,
                "--calcom-api-key", "cal_live_calharness_anna",
                "--calcom-read-api-key", "cal_live_calharness_ben",
                "--calcom-timeout", f"{self.options.calcom_timeout_s:g}",
                "--database", f"sqlite:///{self.log_dir / 'rest_booking.sqlite3'}"]
        argv += ["--hold"] if mode.endswith("-hold") else []
        self._spawn("rest_booking", argv)
        url = f"http://127.0.0.1:{port}"
        self._wait("rest_booking", f"{url}/healthz")
        return url

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL)
        self._processes.append((name, process, log))

    def _wait(self, name: str, url: str) -> None:
        """Until `url` answers 200 (the process is up), or it exited, or time ran out."""
        process = next(p for n, p, _ in self._processes if n == name)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StartError(f"{name} exited with {process.returncode} while starting: "
                                 f"see {self.log_dir / (name + '.log')}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)  # polling a process we started until it listens: no event to wait on
        raise StartError(f"{name} did not answer {url} within {START_TIMEOUT_S:g} s: see "
                         f"{self.log_dir / (name + '.log')}")

    def stop(self) -> None:
        for _name, process, _log in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        for _name, process, log in reversed(self._processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()
        self._processes.clear()
        if self.database is not None:
            self.database.close()
            self.database = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def subscribe_webhooks(self) -> None:
        """The service's webhook subscription on the fake (a reset of the fake forgets it)."""
        _post_json(f"{self.fake_url}/_fake/webhooks/subscribe",
                   {"subscriberUrl": f"{self.service_url}/api/webhooks/calcom",
                    "secret": WEBHOOK_SECRET})

    def reset(self, defenses_off: tuple[str, ...] | None = None) -> None:
        """A clean slate between runs, over HTTP as for any deployment: the fake restored to how
        it started, the service wiped through its test control (`test_control` must be on),
        the webhook subscription renewed."""
        if not self.options.test_control:
            raise StartError("reset needs the service's test control (test_control=True)")
        import asyncio

        from harness.control import TestControlClient

        off = list(self.options.defenses_off if defenses_off is None else defenses_off)
        _post_json(f"{self.fake_url}/_fake/reset", {"scope": "restore"})

        async def wipe() -> None:
            for url in (self.service_url, self.replica_url):
                if url is not None:
                    control = TestControlClient(url, self.token)
                    try:
                        await control.reset(off)
                    finally:
                        await control.close()

        asyncio.run(wipe())
        self.subscribe_webhooks()

    def __enter__(self) -> ServedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # as a target --------------------------------------------------------------------------------

    @property
    def target(self) -> Target:
        if self.options.service != "reference":
            return Target(name=self.options.service, service_url=self.service_url,
                          adapter=REST_ADAPTER, adapter_settings={"hold": True} if
                          self.options.service.endswith("-hold") else {},
                          companies={"primary": TargetCompany(role="primary", api_key="unused")},
                          allow_booking=True, allow_faults=True, max_requests=None,
                          calcom_control_url=self.fake_url)
        companies = demo_companies()
        control = self.options.test_control
        return Target(name="served", service_url=self.service_url, companies=companies,
                      allow_booking=True, allow_faults=True, max_requests=None,
                      calcom_control_url=self.fake_url, calcom_webhook_secret=WEBHOOK_SECRET,
                      test_control_url=self.service_url if control else None,
                      test_control_token=self.token if control else None,
                      replica_url=self.replica_url if control else None)

    def write_target(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(target_toml(self.target), encoding="utf-8")
        return path


def _post_json(url: str, body: object) -> None:
    import json

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


@contextlib.contextmanager
def served(options: ServedOptions | None = None) -> Iterator[ServedStack]:
    with ServedStack(options or ServedOptions()) as stack:
        yield stack
