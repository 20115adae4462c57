"""Locust entry point of `calharness load`: one Locust user is one phone line.

Started by `calharness load` as separate processes (gevent and asyncio do not mix; pytest never
imports this module). The run's description (profile + target, JSON) comes in
``--calharness-config`` (or ``$CALHARNESS_LOAD_CONFIG``) on the master or the local runner;
Locust hands custom options to its workers with the spawn message, so a worker on another
machine needs only the master's address.

What each process does:

* **worker / local runner** — runs the callers (:mod:`loadtests.caller`); records every request
  into its own history file (``HistoryRecorder.for_worker``); fires one ``booking_flow`` request
  event per finished call (its duration; a failure only when the call ended in an error — a
  slot taken or a caller giving up is a normal call); counts outcomes. When the users stop, a
  worker sends its history and counts to the master (custom messages, before it reports
  ``client_stopped``, so the master has them all once its ``stop()`` returns).
* **master / local runner** — ends the run after ``duration_s`` (stop, wait for the workers,
  quit), then in ``events.quitting`` judges it (:mod:`loadtests.judge`: invariants over the
  merged history, the service and Cal.com; thresholds on its own aggregated stats) and sets
  ``environment.process_exit_code``: Locust's exit code is the verdict.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.runners import MasterRunner, WorkerRunner

from harness.history import HistoryRecorder
from loadtests.caller import (
    ERROR,
    EXPECTED,
    Call,
    CallerTiming,
    OutcomeCounter,
    Reply,
    caller_identity,
    run_call,
)
from loadtests.judge import (
    EXIT_UNJUDGED,
    FLOW,
    LoadConfig,
    evaluate,
    judge_invariants,
    upstream_stats,
)

log = logging.getLogger("calharness.load")

CONFIG_ENV = "CALHARNESS_LOAD_CONFIG"
HISTORY_MESSAGE = "calharness_history"
CHUNK_CHARS = 256 * 1024


class FlowFailed(Exception):
    """A call that ended in an error (the reason says which answer ended it)."""


class _Process:
    """This OS process's part of the run."""

    def __init__(self) -> None:
        self.config: LoadConfig | None = None
        self.worker = "w0"
        self.recorder: HistoryRecorder | None = None
        self.scratch: Path | None = None
        self.counter = OutcomeCounter()
        self.user_numbers = itertools.count(1)
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self.shipped = False
        self.histories_done: set[str] = set()


PROC = _Process()


def _config(environment: Any) -> LoadConfig:
    if PROC.config is None:
        raw = getattr(environment.parsed_options, "calharness_config", "") or ""
        if not raw:
            raise RuntimeError("no --calharness-config given: start load runs with "
                               "`calharness load`")
        PROC.config = LoadConfig.loads(raw)
    return PROC.config


def _is_worker(environment: Any) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def _is_master(environment: Any) -> bool:
    return isinstance(environment.runner, MasterRunner)


# -- the phone call ----------------------------------------------------------------------------


class PhoneCall(FastHttpUser):
    """One phone line: a call, a pause while the line is free again, the next call."""

    network_timeout = 60.0  # replaced at test start from the profile (scaled)
    connection_timeout = 10.0

    def wait_time(self) -> float:
        return _config(self.environment).profile.caller_between_calls.draw(self.rng)

    def on_start(self) -> None:
        profile = _config(self.environment).profile
        self.number = next(PROC.user_numbers)
        # A seeded generator per caller: the same seed, worker and caller number give the same
        # wishes, names and talk times.
        self.rng = random.Random(f"{profile.seed}:{PROC.worker}:{self.number}")
        self.calls = 0
        self.timing = CallerTiming(profile.caller_think, profile.caller_retry_think,
                                   profile.max_attempts)

    @task
    def phone_call(self) -> None:
        config = _config(self.environment)
        assert PROC.recorder is not None
        self.calls += 1
        service, wanted = config.profile.demand.pick(self.rng)
        name, telefon = caller_identity(self.rng)
        call = Call(call_id=f"{config.run_tag}-{PROC.worker}-u{self.number}-c{self.calls}",
                    process=f"caller-{self.number}", service=service.name, wanted=wanted,
                    name=name, telefon=telefon, to_number=config.profile.demand.to_number)
        result = run_call(call, self._exchange, PROC.recorder, self.timing, self.rng,
                          sleep=gevent.sleep)
        PROC.counter.add(result)
        self.environment.events.request.fire(
            request_type="FLOW", name=FLOW, response_time=result.duration_s * 1000,
            response_length=0, context={"outcome": result.outcome},
            exception=FlowFailed(result.reason) if result.outcome == ERROR else None)

    def _exchange(self, function: str, args: dict[str, Any], to_number: str | None) -> Reply:
        body = {"args": args, "call": {"call_id": args.get("call_id"), "to_number": to_number}}
        with self.client.post(f"/api/retell/{function}", json=body, name=function,
                              catch_response=True) as response:
            if not response.status_code:
                reply = Reply(None, error=str(response.error or "no answer"))
            else:
                try:
                    data: Any = response.json()
                except ValueError:
                    data = response.text
                reply = Reply(response.status_code, data)
            if reply.http_status == 200 and reply.status in EXPECTED[function]:
                response.success()  # slot taken is part of a normal call
            else:
                response.failure(f"{reply.http_status or 'no answer'} "
                                 f"{reply.status or reply.error or ''}".strip())
        return reply


# -- options and lifecycle ---------------------------------------------------------------------


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--calharness-config", type=str, env_var=CONFIG_ENV, default="",
                        help="the load run as JSON (written by `calharness load`)")


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    if _is_master(environment):
        environment.runner.register_message(HISTORY_MESSAGE, _on_history_chunk)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    config = _config(environment)
    PhoneCall.network_timeout = config.profile.request_timeout
    if not _is_master(environment):
        if _is_worker(environment):
            PROC.worker = f"w{environment.runner.worker_index}"
            PROC.scratch = Path(tempfile.mkdtemp(prefix=f"calharness-load-{PROC.worker}-"))
            directory = PROC.scratch
        else:
            directory = Path(config.run_dir) / "histories"
        if PROC.recorder is None:
            PROC.recorder = HistoryRecorder.for_worker(directory, PROC.worker, keep=False)
    if not _is_worker(environment):
        gevent.spawn(_conduct, environment, config.profile.duration_s)


def _conduct(environment: Any, duration_s: float) -> None:
    """End the run after its duration: stop the users (a master waits for every worker, and so
    for their histories), then quit (which fires ``quitting``: the verdict)."""
    PROC.started_at = time.monotonic()
    gevent.sleep(duration_s)
    PROC.stopped_at = time.monotonic()
    environment.runner.stop()
    environment.runner.quit()


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    if PROC.recorder is None or PROC.shipped:
        return
    PROC.shipped = True
    PROC.recorder.close()
    if _is_worker(environment):
        _ship_history(environment)


def _ship_history(environment: Any) -> None:
    """Send this worker's history (in chunks) and outcome counts to the master."""
    assert PROC.recorder is not None
    assert PROC.recorder.path is not None
    runner = environment.runner
    seq = 0
    buffer: list[str] = []
    size = 0
    with PROC.recorder.path.open(encoding="utf-8") as fh:
        for line in fh:
            buffer.append(line)
            size += len(line)
            if size >= CHUNK_CHARS:
                runner.send_message(HISTORY_MESSAGE, {"worker": PROC.worker, "seq": seq,
                                                      "data": "".join(buffer)})
                seq, buffer, size = seq + 1, [], 0
    runner.send_message(HISTORY_MESSAGE, {"worker": PROC.worker, "seq": seq,
                                          "data": "".join(buffer), "last": True,
                                          "counter": PROC.counter.to_json()})
    # Report the last seconds' request stats now, ahead of `client_stopped`, so the master's
    # percentiles include every finished call (Locust would otherwise send them with `quit`).
    send_stats = getattr(runner, "_send_stats", None)
    if callable(send_stats):
        send_stats()
    if PROC.scratch is not None:
        shutil.rmtree(PROC.scratch, ignore_errors=True)


def _on_history_chunk(environment: Any, msg: Any, **_: Any) -> None:
    config = _config(environment)
    data = msg.data
    worker = str(data["worker"])
    if not worker.startswith("w") or not worker[1:].isdigit():
        log.error("ignoring a history chunk from an unexpected worker id %r", worker)
        return
    directory = Path(config.run_dir) / "histories"
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"history-{worker}.jsonl").open("w" if data["seq"] == 0 else "a",
                                                      encoding="utf-8") as fh:
        fh.write(data["data"])
    if data.get("last"):
        PROC.histories_done.add(worker)
        PROC.counter.merge_json(data.get("counter") or {})


# -- the verdict -----------------------------------------------------------------------------


def _row(entry: Any) -> dict[str, Any]:
    has = entry.num_requests > 0
    return {"name": entry.name, "method": entry.method, "num_requests": entry.num_requests,
            "num_failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5) if has else None,
            "p95_ms": entry.get_response_time_percentile(0.95) if has else None,
            "p99_ms": entry.get_response_time_percentile(0.99) if has else None,
            "avg_ms": round(entry.avg_response_time, 1), "max_ms": entry.max_response_time,
            "rps": round(entry.total_rps, 2)}


def _stats_snapshot(environment: Any, elapsed_s: float) -> dict[str, Any]:
    stats = environment.stats
    total = _row(stats.total)
    if elapsed_s > 0:
        total["rps"] = round(stats.total.num_requests / elapsed_s, 2)
    return {"entries": [_row(e) for e in sorted(stats.entries.values(),
                                                 key=lambda e: (e.method, e.name))],
            "total": total}


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    if _is_worker(environment) or PROC.config is None:
        return
    try:
        summary = _finish(environment, PROC.config)
        environment.process_exit_code = summary["exit_code"]
        log.warning("calharness load verdict: %s (exit %s)", summary["verdict"],
                    summary["exit_code"])
    except Exception:
        log.exception("could not judge the load run")
        environment.process_exit_code = EXIT_UNJUDGED


def _finish(environment: Any, config: LoadConfig) -> dict[str, Any]:
    run_dir = Path(config.run_dir)
    elapsed = (PROC.stopped_at - PROC.started_at
               if PROC.started_at is not None and PROC.stopped_at is not None else 0.0)
    if _is_master(environment):
        expected = {f"w{i}" for i in environment.runner.worker_indexes.values()}
        missing = expected - PROC.histories_done
        if missing:
            log.error("no complete history from %s", ", ".join(sorted(missing)))
    else:
        expected = {PROC.worker}
    judgement = judge_invariants(run_dir, config.target, expected)
    if _is_master(environment):
        for worker in sorted(expected - PROC.histories_done):
            judgement.problems.append(f"worker {worker} did not finish sending its history")
    users = environment.runner.target_user_count or config.profile.users
    summary = evaluate(config.profile, _stats_snapshot(environment, elapsed), PROC.counter,
                       judgement, upstream_stats(config.target), users=users,
                       workers=config.workers, elapsed_s=elapsed, database=config.database,
                       defenses_off=config.defenses_off)
    with contextlib.suppress(OSError):
        run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str),
                                          encoding="utf-8")
    return summary
