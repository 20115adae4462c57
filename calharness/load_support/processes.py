"""Start Locust as separate processes (never in this one: gevent and asyncio do not mix).

One run is a master with N workers (Locust's own master/worker protocol over loopback), or with
no workers a single local runner. Each process's output goes to a log file in the run directory;
the master's exit code is the run's verdict (see loadtests/judge.py). Processes are ended only
by the pids we started, after a bounded wait.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import loadtests

LOCUSTFILE = Path(loadtests.__file__).resolve().parent / "locustfile.py"
CONFIG_ENV = "CALHARNESS_LOAD_CONFIG"  # read by the locustfile's --calharness-config option
EXIT_TIMEOUT = 5  # the run did not end in time (its processes were stopped)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LocustRun:
    """How to start one Locust run for a config (the JSON the locustfile reads)."""

    run_dir: Path
    config_json: str
    host: str  # the booking service's base URL
    users: int
    spawn_rate: float
    workers: int = 0  # local worker processes; 0: one local runner, no master
    remote_workers: int = 0  # workers the master also waits for (started on other machines)
    master_bind_host: str = "127.0.0.1"
    master_port: int | None = None
    expect_workers_max_wait_s: int = 60
    timeout_s: float = 600.0  # the whole run, start to exit

    @property
    def distributed(self) -> bool:
        return self.workers + self.remote_workers > 0

    def runner_argv(self, port: int) -> list[str]:
        argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                "--host", self.host, "-u", str(self.users), "-r", f"{self.spawn_rate:g}",
                "--csv", str(self.run_dir / "locust"), "--html", str(self.run_dir / "locust.html"),
                "--stop-timeout", "0", "--only-summary", "--loglevel", "WARNING"]
        if self.distributed:
            argv += ["--master", "--master-bind-host", self.master_bind_host,
                     "--master-bind-port", str(port),
                     "--expect-workers", str(self.workers + self.remote_workers),
                     "--expect-workers-max-wait", str(self.expect_workers_max_wait_s)]
        return argv


def worker_argv(master_host: str, master_port: int) -> list[str]:
    """A Locust worker: it gets the host, the users and the run's config from the master."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
            "--master-host", master_host, "--master-port", str(master_port),
            "--loglevel", "WARNING"]


def _spawn(argv: list[str], log_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes],
                                                                           IO[bytes]]:
    log = log_path.open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                               stdin=subprocess.DEVNULL)
    return process, log


def _end(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """Wait for one of our processes; terminate it by its pid if it does not end, then kill."""
    try:
        process.wait(timeout=grace_s)
        return
    except subprocess.TimeoutExpired:
        pass
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def run_locust(run: LocustRun, watch: Callable[[], None] | None = None) -> int:
    """Start the master (or local runner) and the local workers; return the master's exit code
    (``EXIT_TIMEOUT`` when the run outlived ``timeout_s``). `watch` is called about once a
    second while the run lasts (a progress display)."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, CONFIG_ENV: run.config_json, "PYTHONUNBUFFERED": "1"}
    worker_env = {k: v for k, v in env.items() if k != CONFIG_ENV}  # workers get it from master
    port = run.master_port or free_port(run.master_bind_host)
    logs: list[IO[bytes]] = []
    workers: list[subprocess.Popen[bytes]] = []
    master, log = _spawn(run.runner_argv(port), run.run_dir / "locust-master.log", env)
    logs.append(log)
    try:
        connect_host = "127.0.0.1" if run.master_bind_host in ("0.0.0.0", "") \
            else run.master_bind_host
        for i in range(run.workers):
            worker, log = _spawn(worker_argv(connect_host, port),
                                 run.run_dir / f"locust-worker-{i}.log", worker_env)
            workers.append(worker)
            logs.append(log)
        code = _wait_watching(master, run.timeout_s, watch)
        if code is None:
            _end(master, 0)
            code = EXIT_TIMEOUT
    except BaseException:
        _end(master, 0)
        raise
    finally:
        for worker in workers:
            _end(worker, 20)  # they quit when the master tells them to
        for log in logs:
            with contextlib.suppress(OSError):
                log.close()
    return code


def _wait_watching(process: subprocess.Popen[bytes], timeout_s: float,
                   watch: Callable[[], None] | None) -> int | None:
    """The process's exit code, or None when it outlived `timeout_s`; `watch` between waits."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            return process.wait(timeout=min(remaining, 1.0) if watch else remaining)
        except subprocess.TimeoutExpired:
            if watch is not None:
                watch()


def run_workers(master_host: str, master_port: int, processes: int, log_dir: Path | None = None,
                timeout_s: float | None = None) -> int:
    """Worker-only mode (another machine): start ``processes`` workers pointed at a master and
    wait for them; the worst exit code wins."""
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    started: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    try:
        for i in range(processes):
            argv = worker_argv(master_host, master_port)
            if log_dir is None:
                started.append(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL))
            else:
                log_dir.mkdir(parents=True, exist_ok=True)
                process, log = _spawn(argv, log_dir / f"locust-worker-{i}.log", env)
                started.append(process)
                logs.append(log)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        codes = []
        for process in started:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                codes.append(process.wait(timeout=remaining))
            except subprocess.TimeoutExpired:
                _end(process, 0)
                codes.append(EXIT_TIMEOUT)
        return max(codes, default=0)
    finally:
        for process in started:
            if process.poll() is None:
                _end(process, 0)
        for log in logs:
            with contextlib.suppress(OSError):
                log.close()
