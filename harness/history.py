"""Operation histories: record, store, load, merge and pair (docs/contracts.md §3).

Every operation a driver performs is two events in a history: an ``invoke`` and then exactly one
completion — ``ok`` (it happened), ``fail`` (it definitely did not) or ``info`` (unknown: a
timeout, a connection error, a 5xx). This is Jepsen's model: checkers read ``info`` as "may or
may not have happened" and judge the history against invariants instead of single assertions.

A *process* is one sequential logical actor (a caller coroutine, a Locust user): it has at most
one operation in flight, which is how a completion is paired with its invocation. Process names
are prefixed with the recorder's worker id (``"w0:caller-3"``), so histories recorded by several
OS processes (Locust workers) can be merged: each worker writes its own JSON-lines file, events in
a file are in time order, and :func:`merge_history_files` interleaves the files by monotonic time
(the same clock for every process on one machine), breaking ties by file order and then by the
event's index, so a merge is stable and repeatable.

Recording is synchronous, non-blocking and thread-safe (one lock around "stamp index and time,
append, write a buffered line"), so it may be called from threads, from many asyncio coroutines
and from gevent greenlets alike.
"""

from __future__ import annotations

import gc
import heapq
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, overload

EventType = Literal["invoke", "ok", "fail", "info"]
Outcome = Literal["ok", "fail", "info"]

EVENT_TYPES: frozenset[str] = frozenset({"invoke", "ok", "fail", "info"})
COMPLETIONS: frozenset[str] = frozenset({"ok", "fail", "info"})

#: Operation functions of contract §3, plus ``read`` (a tenant-scoped read of the service's API:
#: the invoke value names ``endpoint`` and the reader's ``company_id``; used by the tenant check).
FUNCTIONS: frozenset[str] = frozenset(
    {"check", "collect", "cancel", "reschedule", "webhook", "take_slot", "reconcile", "fault",
     "clock", "read"}
)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk work that allocates millions of small,
    acyclic objects (loading a history, building checker indexes): with it on, every
    generation-2 pass rescans all of them and the work turns superlinear. Reference counting
    still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class HistoryError(ValueError):
    """A history that cannot be read or paired (the message says where and why)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a history."""

    index: int
    type: str
    process: str
    f: str
    call_id: str | None
    slot: str | None
    value: Any
    time: int

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index, "type": self.type, "process": self.process, "f": self.f,
            "call_id": self.call_id, "slot": self.slot, "value": self.value, "time": self.time,
        }

    @classmethod
    def from_json(cls, data: Any, *, where: str = "event") -> Event:
        """Validate one decoded JSON line; raises HistoryError naming ``where``."""
        if type(data) is dict:
            index, kind, process, f, t = (data.get("index"), data.get("type"),
                                          data.get("process"), data.get("f"), data.get("time"))
            call_id, slot = data.get("call_id"), data.get("slot")
            # One cheap test for the common, valid line; the slow path explains a bad one.
            if (kind in EVENT_TYPES and type(index) is int and type(t) is int
                    and type(process) is str and process and type(f) is str and f
                    and (call_id is None or type(call_id) is str)
                    and (slot is None or type(slot) is str)):
                return cls(index, kind, process, f, call_id, slot, data.get("value"), t)
        raise HistoryError(f"{where}: {_invalid_event(data)}")


def _invalid_event(data: Any) -> str:
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    for name in ("index", "type", "process", "f", "time"):
        if name not in data:
            return f"missing field {name!r}"
    if data["type"] not in EVENT_TYPES:
        return f"type must be one of {sorted(EVENT_TYPES)}, got {data['type']!r}"
    if type(data["index"]) is not int:
        return "index must be an integer"
    if type(data["time"]) is not int:
        return "time must be integer nanoseconds"
    if not isinstance(data["process"], str) or not data["process"]:
        return "process must be a non-empty string"
    if not isinstance(data["f"], str) or not data["f"]:
        return "f must be a non-empty string"
    return "call_id and slot must be strings or null"


def booking_uid_of(answer: Any) -> str | None:
    """The booking uid an answer names: the service's ``booking_uid``, or a Cal.com booking's
    ``uid`` (bare or in a ``{"data": …}`` envelope, as the fake's take-slot answers)."""
    if not isinstance(answer, dict):
        return None
    uid = answer.get("booking_uid")
    if uid is None:
        uid = answer.get("uid")
        if uid is None:
            data = answer.get("data")
            if isinstance(data, dict):
                uid = data.get("uid")
    return uid if isinstance(uid, str) else None


class Operation:
    """An invocation paired with its completion (``None`` when the history ended first, which
    counts as ``info``: the outcome is unknown).

    The fields checkers read in their inner loops are plain attributes, copied from the events.
    """

    __slots__ = ("call_id", "completion", "f", "index", "invoke", "process", "slot", "type")

    def __init__(self, invoke: Event, completion: Event | None = None) -> None:
        self.invoke = invoke
        self.index = invoke.index
        self.process = invoke.process
        self.f = invoke.f
        self.call_id = invoke.call_id
        self.slot = invoke.slot
        self.completion: Event | None = None
        self.type: Outcome = "info"
        if completion is not None:
            self.complete(completion)

    def complete(self, completion: Event) -> None:
        self.completion = completion
        self.type = completion.type  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Operation(index={self.index}, process={self.process!r}, f={self.f!r}, "
                f"call_id={self.call_id!r}, slot={self.slot!r}, type={self.type!r})")

    @property
    def request(self) -> Any:
        return self.invoke.value

    @property
    def answer(self) -> Any:
        return self.completion.value if self.completion is not None else None

    @property
    def status(self) -> str | None:
        """The service's ``status`` field, when the answer has one."""
        answer = self.answer
        if isinstance(answer, dict):
            status = answer.get("status")
            return status if isinstance(status, str) else None
        return None

    @property
    def booking_uid(self) -> str | None:
        return booking_uid_of(self.answer)

    def to_json(self) -> dict[str, Any]:
        """A compact record for reports: the invocation, and the outcome with its answer."""
        return {
            "index": self.index, "process": self.process, "f": self.f,
            "call_id": self.call_id, "slot": self.slot, "type": self.type,
            "request": self.request, "answer": self.answer,
            "invoke_time": self.invoke.time,
            "complete_time": self.completion.time if self.completion is not None else None,
        }


def pair_operations(events: Iterable[Event]) -> list[Operation]:
    """Pair each invocation with the next completion of the same process, in history order.

    Raises HistoryError on a completion with no open invocation or on a second invocation while
    one is open (a process is sequential). Operations come back in invocation order.
    """
    ops: list[Operation] = []
    open_ops: dict[str, Operation] = {}
    for ev in events:
        if ev.type == "invoke":
            if ev.process in open_ops:
                raise HistoryError(
                    f"event {ev.index}: process {ev.process!r} invokes {ev.f!r} while its "
                    f"operation {open_ops[ev.process].index} is still open"
                )
            op = Operation(ev)
            open_ops[ev.process] = op
            ops.append(op)
        else:
            open_op = open_ops.pop(ev.process, None)
            if open_op is None:
                raise HistoryError(
                    f"event {ev.index}: {ev.type} for process {ev.process!r} with no open invocation"
                )
            open_op.complete(ev)
    return ops


class History(Sequence[Event]):
    """An ordered, immutable sequence of events, with the operations they pair into."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self._events: list[Event] = list(events)

    @overload
    def __getitem__(self, i: int) -> Event: ...
    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...
    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        return self._events[i]

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"History({len(self._events)} events)"

    @cached_property
    def operations(self) -> list[Operation]:
        """Invocations paired with their completions (computed once)."""
        return pair_operations(self._events)

    def dump(self, path: str | Path) -> Path:
        """Write the history as JSON lines."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for ev in self._events:
                fh.write(_encode(ev))
        return path

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read one JSON-lines history file, or merge the per-worker files of a directory
        (``history-<worker>.jsonl``, as :meth:`HistoryRecorder.for_worker` names them)."""
        path = Path(path)
        if path.is_dir():
            files = sorted(path.glob("history-*.jsonl"))
            if not files:
                raise HistoryError(f"no history-*.jsonl files in {path}")
            return merge_history_files(files)
        with paused_gc():
            return cls(_read_events(path))


def load_history(path: str | Path) -> History:
    """Shorthand for :meth:`History.load`."""
    return History.load(path)


def merge_history_files(paths: Iterable[str | Path], out: str | Path | None = None) -> History:
    """Merge per-worker history files into one history with fresh global indices.

    Events are interleaved by monotonic time; ties go to the earlier file, then to the lower
    original index, so the same files always merge the same way.
    """
    with paused_gc():
        streams = [(((ev.time, rank, ev.index), ev) for ev in _read_events(Path(p)))
                   for rank, p in enumerate(paths)]
        merged = History(
            Event(i, ev.type, ev.process, ev.f, ev.call_id, ev.slot, ev.value, ev.time)
            for i, (_, ev) in enumerate(heapq.merge(*streams, key=lambda item: item[0]))
        )
    if out is not None:
        merged.dump(out)
    return merged


def _encode(ev: Event) -> str:
    return json.dumps(ev.to_json(), separators=(",", ":"), ensure_ascii=False, default=str) + "\n"


def _read_events(path: Path) -> Iterator[Event]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"cannot read history {path}: {exc.strerror or exc}") from None
    with fh:
        lines = fh.readlines()
    last = len(lines)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == last and not line.endswith("\n"):
                return  # a writer died mid-line: the torn tail is not part of the history
            raise HistoryError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        try:
            event = Event.from_json(data)
        except HistoryError as exc:
            raise HistoryError(f"{path}:{lineno}: {_invalid_event(data)}") from exc
        yield event


# ---------------------------------------------------------------------------------------------
# Classifying answers into ok / fail / info
# ---------------------------------------------------------------------------------------------

#: Statuses with which the service admits it does not know whether the thing happened.
UNKNOWN_STATUSES: frozenset[str] = frozenset({"timeout", "error", "upstream_unavailable"})

#: Refusals of the input itself (nothing was attempted upstream).
INPUT_REFUSALS: frozenset[str] = frozenset(
    {"missing_required_field", "invalid_date", "invalid_time", "past_date", "unknown_service"}
)

#: Statuses meaning "it happened", per operation, used when an answer has no ``success`` flag.
DONE_STATUSES: Mapping[str, frozenset[str]] = {
    "collect": frozenset({"booked", "confirmation_required"}),
    "cancel": frozenset({"cancelled"}),
    "reschedule": frozenset({"rescheduled"}),
}


def classify_answer(f: str, answer: Any) -> Outcome:
    """Classify a booking-service answer (contract §2.3) for operation ``f``.

    * ``info`` — not a JSON object, or a status the service uses when it cannot know the
      outcome (``timeout``, ``error``, ``upstream_unavailable``).
    * ``check`` (a read): ``fail`` for a refused input, else ``ok``.
    * other operations: ``ok`` when ``success`` is true (or, without the flag, for the statuses
      that mean it happened: ``booked``, ``confirmation_required``, ``cancelled``,
      ``rescheduled``); every other status is a definite refusal: ``fail``. A service that says
      ``slot_taken``, ``rate_limited`` or ``circuit_open`` is held to its word — if a booking
      exists anyway, that is a lost booking.
    """
    if not isinstance(answer, dict):
        return "info"
    status = answer.get("status")
    if not isinstance(status, str) or status in UNKNOWN_STATUSES:
        return "info"
    if f == "check":
        return "fail" if status in INPUT_REFUSALS else "ok"
    success = answer.get("success")
    if isinstance(success, bool):
        return "ok" if success else "fail"
    return "ok" if status in DONE_STATUSES.get(f, frozenset()) else "fail"


def classify_http(status: int | None) -> Outcome:
    """Classify a bare HTTP status: 2xx ok, 4xx fail (refused), anything else info."""
    if status is None:
        return "info"
    if 200 <= status < 300:
        return "ok"
    if 400 <= status < 500:
        return "fail"
    return "info"


def error_value(exc: BaseException) -> dict[str, str]:
    """The ``info`` value recorded for a transport error (timeout, reset, refused)."""
    return {"error": type(exc).__name__, "detail": str(exc)[:500]}


# ---------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------


class PendingOperation:
    """An invoked operation waiting for its completion; complete it exactly once."""

    __slots__ = ("_recorder", "completion", "invoke")

    def __init__(self, recorder: HistoryRecorder, invoke: Event) -> None:
        self._recorder = recorder
        self.invoke = invoke
        self.completion: Event | None = None

    @property
    def done(self) -> bool:
        return self.completion is not None

    def ok(self, value: Any = None) -> Event:
        return self.complete("ok", value)

    def fail(self, value: Any = None) -> Event:
        return self.complete("fail", value)

    def info(self, value: Any = None) -> Event:
        return self.complete("info", value)

    def answer(self, answer: Any) -> Event:
        """Complete with a booking-service answer, classified by :func:`classify_answer`."""
        return self.complete(classify_answer(self.invoke.f, answer), answer)

    def error(self, exc: BaseException) -> Event:
        """Complete as ``info`` with a transport error (the outcome is unknown)."""
        return self.complete("info", error_value(exc))

    def complete(self, outcome: Outcome, value: Any = None) -> Event:
        if outcome not in COMPLETIONS:
            raise ValueError(f"outcome must be one of {sorted(COMPLETIONS)}, got {outcome!r}")
        if self.completion is not None:
            raise RuntimeError(f"operation {self.invoke.index} is already completed")
        self.completion = self._recorder._complete(self.invoke, outcome, value)
        return self.completion


class _OperationScope:
    """``with recorder.operation(...) as op:`` — an exception inside completes it as ``info``
    (and propagates); leaving without completing records ``info`` too."""

    __slots__ = ("_args", "_pending", "_recorder")

    def __init__(self, recorder: HistoryRecorder, args: tuple[Any, ...]) -> None:
        self._recorder = recorder
        self._args = args
        self._pending: PendingOperation | None = None

    def __enter__(self) -> PendingOperation:
        self._pending = self._recorder.invoke(*self._args)
        return self._pending

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._pending is not None
        if not self._pending.done:
            if exc is not None:
                self._pending.error(exc)
            else:
                self._pending.info({"error": "NotCompleted", "detail": "driver recorded no outcome"})


class HistoryRecorder:
    """Records operations as JSON lines (and keeps them in memory unless ``keep=False``).

    ``worker`` prefixes every process name; give each OS process its own recorder and file
    (:meth:`for_worker`) and merge the files afterwards with :func:`merge_history_files`.
    """

    def __init__(self, path: str | Path | None = None, *, worker: str = "w0", keep: bool = True,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        if not worker or ":" in worker:
            raise ValueError("worker must be a non-empty id without ':'")
        self.worker = worker
        self.path = Path(path) if path is not None else None
        self._keep = keep
        self._clock = clock
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._open: dict[str, int] = {}
        self._next = 0
        self._fh: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8")

    @classmethod
    def for_worker(cls, directory: str | Path, worker: str, **kwargs: Any) -> HistoryRecorder:
        """A recorder writing ``<directory>/history-<worker>.jsonl``."""
        return cls(Path(directory) / f"history-{worker}.jsonl", worker=worker, **kwargs)

    # -- recording ---------------------------------------------------------------------------

    def invoke(self, process: str, f: str, call_id: str | None = None, slot: str | None = None,
               value: Any = None) -> PendingOperation:
        """Record an invocation by logical ``process`` (one operation in flight per process)."""
        name = f"{self.worker}:{process}"
        with self._lock:
            if name in self._open:
                raise RuntimeError(
                    f"process {name!r} already has operation {self._open[name]} in flight"
                )
            ev = self._append("invoke", name, f, call_id, slot, value)
            self._open[name] = ev.index
        return PendingOperation(self, ev)

    def operation(self, process: str, f: str, call_id: str | None = None,
                  slot: str | None = None, value: Any = None) -> _OperationScope:
        """Context manager around :meth:`invoke` (usable in sync and async code alike)."""
        return _OperationScope(self, (process, f, call_id, slot, value))

    def _complete(self, invoke: Event, outcome: str, value: Any) -> Event:
        with self._lock:
            self._open.pop(invoke.process, None)
            return self._append(outcome, invoke.process, invoke.f, invoke.call_id, invoke.slot,
                                value)

    def _append(self, kind: str, process: str, f: str, call_id: str | None, slot: str | None,
                value: Any) -> Event:
        ev = Event(self._next, kind, process, f, call_id, slot, value, self._clock())
        self._next += 1
        if self._keep:
            self._events.append(ev)
        if self._fh is not None:
            self._fh.write(_encode(ev))
        return ev

    # -- reading and lifecycle ---------------------------------------------------------------

    def history(self) -> History:
        """A snapshot of the events recorded so far (requires ``keep=True``)."""
        if not self._keep:
            raise RuntimeError("this recorder does not keep events in memory; load its file")
        with self._lock:
            return History(list(self._events))

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._open)

    def flush(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> HistoryRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
