"""The history recorder, its JSON-lines files, merging and pairing, and answer classification."""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from harness.history import (
    History,
    HistoryError,
    HistoryRecorder,
    classify_answer,
    classify_http,
    load_history,
    merge_history_files,
    pair_operations,
)


def counter(start: int = 0):
    ticks = itertools.count(start)
    return lambda: next(ticks)


def test_records_invoke_and_completion_with_contract_fields(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with HistoryRecorder(path, worker="w0", clock=counter(100)) as rec:
        op = rec.invoke("caller-3", "collect", "call_ab12", "2025-10-20T12:00:00Z",
                        {"datum": "20.10.2025"})
        op.answer({"success": True, "status": "booked", "booking_uid": "u1"})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"index": 0, "type": "invoke", "process": "w0:caller-3", "f": "collect",
         "call_id": "call_ab12", "slot": "2025-10-20T12:00:00Z",
         "value": {"datum": "20.10.2025"}, "time": 100},
        {"index": 1, "type": "ok", "process": "w0:caller-3", "f": "collect",
         "call_id": "call_ab12", "slot": "2025-10-20T12:00:00Z",
         "value": {"success": True, "status": "booked", "booking_uid": "u1"}, "time": 101},
    ]
    ops = load_history(path).operations
    assert [(o.type, o.status, o.booking_uid) for o in ops] == [("ok", "booked", "u1")]


def test_a_process_has_one_operation_in_flight() -> None:
    rec = HistoryRecorder()
    op = rec.invoke("caller-1", "collect")
    with pytest.raises(RuntimeError, match="already has operation 0 in flight"):
        rec.invoke("caller-1", "check")
    op.fail({"status": "slot_taken"})
    with pytest.raises(RuntimeError, match="already completed"):
        op.ok()
    rec.invoke("caller-1", "check").ok({"status": "available"})
    assert [o.type for o in rec.history().operations] == ["fail", "ok"]


def test_operation_scope_records_info_on_exception_and_when_left_open() -> None:
    rec = HistoryRecorder()
    with pytest.raises(TimeoutError), rec.operation("c1", "collect", "call_1"):
        raise TimeoutError("upstream hung")
    with rec.operation("c2", "cancel", "call_2"):
        pass
    with rec.operation("c3", "cancel", "call_3") as op:
        op.answer({"success": True, "status": "cancelled"})
    ops = rec.history().operations
    assert [(o.process, o.type) for o in ops] == [("w0:c1", "info"), ("w0:c2", "info"),
                                                  ("w0:c3", "ok")]
    assert ops[0].answer == {"error": "TimeoutError", "detail": "upstream hung"}


def test_an_invocation_without_completion_pairs_as_info() -> None:
    rec = HistoryRecorder()
    rec.invoke("c1", "collect", "call_1")
    (op,) = rec.history().operations
    assert op.completion is None
    assert op.type == "info"


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([("ok", "p")], "with no open invocation"),
        ([("invoke", "p"), ("invoke", "p")], "still open"),
    ],
)
def test_pairing_rejects_malformed_histories(events: list[tuple[str, str]], message: str) -> None:
    from harness.history import Event

    evs = [Event(i, t, p, "collect", None, None, None, i) for i, (t, p) in enumerate(events)]
    with pytest.raises(HistoryError, match=message):
        pair_operations(evs)


def test_load_names_the_line_of_bad_input(tmp_path: Path) -> None:
    good = '{"index":0,"type":"invoke","process":"w0:a","f":"check","time":1}\n'
    cases = {
        "not-json.jsonl": (good + "{oops\n" + good, "not-json.jsonl:2: not JSON"),
        "bad-type.jsonl": (good.replace("invoke", "done"), "type must be one of"),
        "missing.jsonl": ('{"index":0,"type":"invoke","f":"check","time":1}\n',
                          "missing field 'process'"),
        "bad-time.jsonl": (good.replace('"time":1', '"time":"soon"'), "time must be integer"),
        "array.jsonl": ("[1,2]\n", "expected a JSON object"),
        "bool-index.jsonl": (good.replace('"index":0', '"index":true'), "index must be an integer"),
        "bad-slot.jsonl": (good.replace('"time":1', '"time":1,"slot":5'), "slot must be strings"),
        "empty-f.jsonl": (good.replace('"f":"check"', '"f":""'), "f must be a non-empty"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(HistoryError, match=message):
            History.load(tmp_path / name)
    with pytest.raises(HistoryError, match="cannot read history"):
        History.load(tmp_path / "absent.jsonl")


def test_a_torn_last_line_from_a_dead_writer_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    rec = HistoryRecorder(path, clock=counter())
    rec.invoke("a", "check").ok({"status": "available"})
    rec.close()
    with path.open("a") as fh:
        fh.write('{"index":2,"type":"inv')
    assert len(History.load(path)) == 2


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    rec = HistoryRecorder(clock=counter())
    rec.invoke("a", "take_slot", None, "2025-10-10T08:00:00Z", {"name": "Outside Booker"}).ok(
        {"uid": "u9"})
    history = rec.history()
    loaded = History.load(history.dump(tmp_path / "out" / "h.jsonl"))
    assert list(loaded) == list(history)
    assert loaded.operations[0].booking_uid == "u9"


def test_merge_interleaves_worker_files_by_time_stably(tmp_path: Path) -> None:
    # Two workers with overlapping clocks; equal times go to the earlier file.
    w0 = HistoryRecorder.for_worker(tmp_path, "w0", clock=iter([10, 20, 30, 40]).__next__)
    w1 = HistoryRecorder.for_worker(tmp_path, "w1", clock=iter([15, 20, 35, 50]).__next__)
    a = w0.invoke("caller-1", "collect", "call_a")
    b = w1.invoke("caller-1", "collect", "call_b")
    a.ok({"status": "booked"})
    b.fail({"status": "slot_taken"})
    w0.invoke("caller-1", "check").ok()
    w1.invoke("caller-1", "check").ok()
    w0.close()
    w1.close()
    paths = [tmp_path / "history-w0.jsonl", tmp_path / "history-w1.jsonl"]
    (tmp_path / "out").mkdir()
    merged = merge_history_files(paths, out=tmp_path / "out" / "merged.jsonl")
    assert [(e.index, e.process, e.type, e.time) for e in merged] == [
        (0, "w0:caller-1", "invoke", 10), (1, "w1:caller-1", "invoke", 15),
        (2, "w0:caller-1", "ok", 20), (3, "w1:caller-1", "fail", 20),
        (4, "w0:caller-1", "invoke", 30), (5, "w1:caller-1", "invoke", 35),
        (6, "w0:caller-1", "ok", 40), (7, "w1:caller-1", "ok", 50),
    ]
    assert [(o.call_id, o.type) for o in merged.operations] == [
        ("call_a", "ok"), ("call_b", "fail"), (None, "ok"), (None, "ok")]
    assert list(merge_history_files(paths)) == list(merged)  # repeatable
    assert list(History.load(tmp_path / "out" / "merged.jsonl")) == list(merged)
    # A directory loads as the merge of the worker files in it (not the merged copy).
    assert list(History.load(tmp_path)) == list(merged)
    with pytest.raises(HistoryError, match="no history-"):
        History.load(tmp_path / "out")



def test_threads_record_without_losing_or_reordering_events(tmp_path: Path) -> None:
    rec = HistoryRecorder(tmp_path / "h.jsonl")
    start = threading.Barrier(8)

    def caller(n: int) -> None:
        start.wait()
        for i in range(300):
            op = rec.invoke(f"t{n}", "collect", f"call_{n}_{i}")
            op.fail({"status": "slot_taken"}) if i % 2 else op.ok({"status": "booked"})

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec.close()
    loaded = History.load(tmp_path / "h.jsonl")
    assert [e.index for e in loaded] == list(range(8 * 300 * 2))
    assert all(a.time <= b.time for a, b in itertools.pairwise(loaded))
    assert len(loaded.operations) == 8 * 300
    assert list(loaded) == list(rec.history())


async def test_coroutines_interleave_and_pair_by_process() -> None:
    rec = HistoryRecorder()
    both_invoked = asyncio.Barrier(20)

    async def caller(n: int) -> None:
        with rec.operation(f"caller-{n}", "collect", f"call_{n}") as op:
            await both_invoked.wait()  # every caller is in flight at once
            op.answer({"success": n == 0, "status": "booked" if n == 0 else "slot_taken"})

    await asyncio.gather(*(caller(n) for n in range(20)))
    history = rec.history()
    assert [e.type for e in history[:20]] == ["invoke"] * 20
    assert sorted((o.call_id, o.type) for o in history.operations)[:2] == [
        ("call_0", "ok"), ("call_1", "fail")]


def _worker(directory: str, worker: str, n: int) -> None:
    with HistoryRecorder.for_worker(directory, worker) as rec:
        for i in range(n):
            rec.invoke("user-1", "collect", f"{worker}-call-{i}").ok({"status": "booked"})


def test_worker_processes_write_files_that_merge(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), f"w{i}", 50)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    merged = History.load(tmp_path)
    assert len(merged.operations) == 100
    assert {o.process for o in merged.operations} == {"w0:user-1", "w1:user-1"}
    assert all(a.time <= b.time for a, b in itertools.pairwise(merged))


def test_worker_ids_must_not_contain_the_separator() -> None:
    with pytest.raises(ValueError, match="without ':'"):
        HistoryRecorder(worker="w:0")


@pytest.mark.parametrize(
    ("f", "answer", "outcome"),
    [
        ("collect", {"success": True, "status": "booked"}, "ok"),
        ("collect", {"success": True, "status": "confirmation_required"}, "ok"),
        ("collect", {"success": False, "status": "slot_taken"}, "fail"),
        ("collect", {"success": False, "status": "stale_booking_data"}, "fail"),
        ("collect", {"success": False, "status": "rate_limited"}, "fail"),
        ("collect", {"success": False, "status": "circuit_open"}, "fail"),
        ("collect", {"success": False, "status": "timeout"}, "info"),
        ("collect", {"success": False, "status": "upstream_unavailable"}, "info"),
        ("collect", {"success": False, "status": "error"}, "info"),
        ("collect", {"status": "booked"}, "ok"),
        ("collect", {"status": "duplicate"}, "fail"),
        ("collect", {"success": True}, "info"),
        ("collect", None, "info"),
        ("collect", "<html>502</html>", "info"),
        ("check", {"success": True, "status": "unavailable"}, "ok"),
        ("check", {"success": False, "status": "invalid_date"}, "fail"),
        ("check", {"success": False, "status": "timeout"}, "info"),
        ("cancel", {"success": True, "status": "cancelled"}, "ok"),
        ("cancel", {"status": "already_cancelled"}, "fail"),
        ("reschedule", {"status": "rescheduled"}, "ok"),
        ("reschedule", {"success": False, "status": "slot_taken"}, "fail"),
    ],
)
def test_classify_answer(f: str, answer: object, outcome: str) -> None:
    assert classify_answer(f, answer) == outcome


@pytest.mark.parametrize(("status", "outcome"),
                         [(200, "ok"), (201, "ok"), (401, "fail"), (404, "fail"), (429, "fail"),
                          (500, "info"), (502, "info"), (None, "info")])
def test_classify_http(status: int | None, outcome: str) -> None:
    assert classify_http(status) == outcome
