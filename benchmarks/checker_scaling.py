"""How the invariant checkers scale: histories of 10k, 100k and 1M operations.

Generates, from a seed, a realistic run of a multi-tenant phone-booking service — callers who
check and book (some lose races and take an alternative, some time out, retry, cancel or
reschedule), outside bookers, webhook deliveries (with duplicates), reconciliation and tenant
reads — as a history interleaved across concurrent processes, plus the matching service view and
Cal.com ground truth. Then it times ``harness.checks.run_all`` over it, per checker and in total.

The generated run is consistent: a clean run must show no violation (a false alarm would be a
checker bug). ``--inject N`` plants N violations of each kind and reports how many were found.

    python benchmarks/checker_scaling.py                      # 10k, 100k, 1M operations
    python benchmarks/checker_scaling.py --sizes 10000 --inject 5 --io
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.checks import (
    CHECKERS,
    Appointment,
    AuditEntry,
    Facts,
    GroundTruth,
    ProcessedWebhook,
    ServiceView,
    UpstreamBooking,
    WebhookDelivery,
    run_all,
)
from harness.history import Event, History

SLOT_S = 1800
DAY_S = 86_400
BASE = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
SLOTS_PER_DAY = 16                       # 09:00–17:00 in 30-minute slots
HOSTS_PER_COMPANY = 2
CONCURRENCY = 64                         # callers in flight at once


@lru_cache(maxsize=1 << 16)
def iso(epoch_s: int, ms: bool = False) -> str:
    dt = datetime.fromtimestamp(epoch_s, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z" if ms else "%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PlannedOp:
    f: str
    call_id: str | None
    slot: str | None
    request: Any
    outcome: str
    answer: Any


@dataclass
class Run:
    calls: list[list[PlannedOp]] = field(default_factory=list)
    bookings: list[UpstreamBooking] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    processed: list[ProcessedWebhook] = field(default_factory=list)
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    history: History | None = None
    operations: int = 0


class Generator:
    """A seeded simulation of the booking flow that keeps Cal.com and the service consistent."""

    def __init__(self, operations: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.target = operations
        self.companies = max(5, min(200, operations // 5_000))
        self.hosts = self.companies * HOSTS_PER_COMPANY
        # Enough days that about half the slots end up booked.
        self.days = max(20, int(operations / 3.2 / (self.hosts * SLOTS_PER_DAY) * 2) + 1)
        self.taken: dict[tuple[int, int], str] = {}
        self.run = Run()
        self.planned = 0
        self.ids = itertools.count(1)
        self.uid_seq = itertools.count(1)
        self.sha_seq = itertools.count(1)
        self.company_appointments: dict[int, list[Appointment]] = {}

    # -- state changes -------------------------------------------------------------------------

    def _host(self) -> tuple[int, int]:
        company = self.rng.randrange(self.companies)
        return company, 100 + company * HOSTS_PER_COMPANY + self.rng.randrange(HOSTS_PER_COMPANY)

    def _wanted_slot(self) -> int:
        day = min(int(self.rng.expovariate(1 / (self.days / 4))), self.days - 1)
        return BASE + day * DAY_S + 9 * 3600 + self.rng.randrange(SLOTS_PER_DAY) * SLOT_S

    def _free_after(self, host: int, start: int) -> int:
        while (host, start) in self.taken:
            start += SLOT_S
            if (start - BASE) % DAY_S >= 17 * 3600:
                start += DAY_S - 8 * 3600
        return start

    def _book(self, host: int, start: int, call_id: str | None, origin: str,
              name: str) -> UpstreamBooking:
        uid = f"u{next(self.uid_seq):021d}"
        b = UpstreamBooking(uid=uid, status="accepted", start=iso(start, True),
                            end=iso(start + SLOT_S, True), host_ids=(host,), call_id=call_id,
                            origin=origin, api_key_owner=host if origin == "api" else None,
                            attendee_name=name, attendee_email="termin@example.test",
                            created_at=iso(start - 7 * DAY_S, True))
        self.taken[(host, start)] = uid
        self.run.bookings.append(b)
        return b

    def _appoint(self, company: int, host: int, b: UpstreamBooking, call_id: str | None,
                 source: str, name: str) -> Appointment:
        start = b.start_s or 0
        a = Appointment(id=next(self.ids), company_id=company, call_id=call_id,
                        booking_uid=b.uid, status="scheduled", start=iso(start),
                        end=iso(start + SLOT_S), host_id=host, event_type_id=2000 + company,
                        customer_id=next(self.ids), customer_name=name, source=source)
        self.run.appointments.append(a)
        self.company_appointments.setdefault(company, []).append(a)
        return a

    def _webhook(self, b: UpstreamBooking, trigger: str, effect: tuple[int, str] | None) -> None:
        sha = f"{next(self.sha_seq):064x}"
        copies = 2 if self.rng.random() < 0.01 else 1
        for copy in range(1, copies + 1):
            self.run.deliveries.append(WebhookDelivery(
                seq=len(self.run.deliveries) + 1, trigger_event=trigger, booking_uid=b.uid,
                body_sha256=sha, outcome="sent", http_status=200, copy=copy))
        if effect is not None:
            self.run.audit.append(AuditEntry(effect[0], effect[1], "webhook", sha))
        else:
            self.run.audit.append(AuditEntry(None, "webhook_recorded", "webhook", sha))
        for _ in range(copies - 1):
            self.run.audit.append(AuditEntry(None, "webhook_duplicate_ignored", "webhook", sha))
        self.run.processed.append(ProcessedWebhook(sha, trigger, b.uid))

    def _op(self, ops: list[PlannedOp], f: str, call_id: str | None, slot: int | None,
            request: Any, outcome: str, answer: Any) -> None:
        ops.append(PlannedOp(f, call_id, iso(slot) if slot is not None else None, request,
                             outcome, answer))
        self.planned += 1

    # -- one caller ----------------------------------------------------------------------------

    def caller(self, n: int) -> list[PlannedOp]:
        rng = self.rng
        call_id = f"call_{n:09x}"
        name = f"Caller {n}"
        company, host = self._host()
        wanted = self._wanted_slot()
        args = {"datum": iso(wanted)[:10], "uhrzeit": iso(wanted)[11:16], "name": name,
                "dienstleistung": "Beratung", "call_id": call_id}
        ops: list[PlannedOp] = []
        free = (host, wanted) not in self.taken
        self._op(ops, "check", call_id, wanted, args, "ok",
                 {"success": True, "status": "available" if free else "unavailable"})
        start = wanted
        if not free:
            self._op(ops, "collect", call_id, wanted, args, "fail",
                     {"success": False, "status": "slot_taken", "alternatives": []})
            if rng.random() < 0.3:
                return ops                   # the caller gives up
            start = self._free_after(host, wanted)
        if rng.random() < 0.03:              # the service timed out: unknown outcome
            self._op(ops, "collect", call_id, start, args, "info",
                     {"success": False, "status": "timeout"})
            if rng.random() < 0.5:           # …it did book, and reconciliation imported it
                b = self._book(host, start, call_id, "api", name)
                a = self._appoint(company, host, b, call_id, "reconcile", name)
                self._webhook(b, "BOOKING_CREATED", None)
                self.run.audit.append(AuditEntry(a.id, "imported", "reconcile"))
            return ops
        b = self._book(host, start, call_id, "api", name)
        a = self._appoint(company, host, b, call_id, "voice", name)
        self._webhook(b, "BOOKING_CREATED", None)
        answer = {"success": True, "status": "booked", "appointment_id": a.id,
                  "booking_uid": b.uid, "start": iso(start), "alternatives": []}
        self._op(ops, "collect", call_id, start, args, "ok", answer)
        if rng.random() < 0.02:              # an idempotent retry of the same request
            self._op(ops, "collect", call_id, start, args, "ok", dict(answer))
        roll = rng.random()
        if roll < 0.05:
            b.status, a.status = "cancelled", "cancelled"
            del self.taken[(host, start)]
            self._op(ops, "cancel", call_id, start, {"call_id": call_id, "appointment_id": a.id},
                     "ok", {"success": True, "status": "cancelled", "appointment_id": a.id})
            self._webhook(b, "BOOKING_CANCELLED", None)
        elif roll < 0.07:
            new_start = self._free_after(host, start + SLOT_S)
            b.status, a.status = "cancelled", "rescheduled"
            del self.taken[(host, start)]
            nb = self._book(host, new_start, call_id, "api", name)
            nb.rescheduled_from_uid, b.rescheduled_to_uid = b.uid, nb.uid
            na = self._appoint(company, host, nb, call_id, "voice", name)
            self._op(ops, "reschedule", call_id, new_start,
                     {"call_id": call_id, "appointment_id": a.id}, "ok",
                     {"success": True, "status": "rescheduled", "appointment_id": na.id,
                      "booking_uid": nb.uid, "start": iso(new_start)})
            self._webhook(nb, "BOOKING_RESCHEDULED", None)
        if rng.random() < 0.1:               # the practice looks at its calendar
            mine = self.company_appointments[company][-3:]
            self._op(ops, "read", None, None, {"endpoint": "appointments", "company_id": company},
                     "ok", [{"id": x.id, "company_id": x.company_id, "status": x.status,
                             "start": x.start} for x in mine])
        return ops

    def outside_booker(self) -> list[PlannedOp]:
        company, host = self._host()
        start = self._free_after(host, self._wanted_slot())
        b = self._book(host, start, None, "outside", "Outside Booker")
        ops: list[PlannedOp] = []
        self._op(ops, "take_slot", None, start, {"attendee": {"name": "Outside Booker"}},
                 "ok", {"status": "success", "data": {"uid": b.uid}})
        if self.rng.random() < 0.7:          # its webhook imports it
            a = self._appoint(company, host, b, None, "webhook", "Outside Booker")
            self._webhook(b, "BOOKING_CREATED", (a.id, "imported"))
        return ops

    def generate(self) -> Run:
        n = 0
        while self.planned < self.target:
            if self.rng.random() < 0.05:
                self.run.calls.append(self.outside_booker())
            else:
                self.run.calls.append(self.caller(n))
                n += 1
            if n % 10_000 == 0 and self.run.calls[-1] and self.run.calls[-1][0].f == "check":
                self.run.calls.append([PlannedOp("reconcile", None, None, {}, "ok",
                                                 {"orphans": [], "missing": [], "repaired": 0})])
                self.planned += 1
        self.run.operations = self.planned
        self.run.history = interleave(self.run.calls, self.rng)
        return self.run


def interleave(calls: list[list[PlannedOp]], rng: random.Random) -> History:
    """Run the callers on CONCURRENCY processes: each process performs its callers' operations in
    order, each taking a random latency, so invocations and completions interleave."""
    events: list[Event] = []
    queue = iter(enumerate(calls))
    # (time, seq, process, call ops, position, phase)
    heap: list[tuple[int, int, int, list[PlannedOp], int, int]] = []
    seq = itertools.count()
    for p in range(CONCURRENCY):
        item = next(queue, None)
        if item is not None:
            heapq.heappush(heap, (rng.randrange(100), next(seq), p, item[1], 0, 0))
    index = 0
    while heap:
        t, _, p, ops, pos, phase = heapq.heappop(heap)
        if pos == len(ops):                  # this caller is done: take the next one
            item = next(queue, None)
            if item is not None:
                heapq.heappush(heap, (t + 1, next(seq), p, item[1], 0, 0))
            continue
        op = ops[pos]
        process = f"w{p % 4}:p{p}"
        if phase == 0:
            events.append(Event(index, "invoke", process, op.f, op.call_id, op.slot, op.request, t))
            heapq.heappush(heap, (t + 1 + rng.randrange(400), next(seq), p, ops, pos, 1))
        else:
            events.append(Event(index, op.outcome, process, op.f, op.call_id, op.slot,
                                op.answer, t))
            heapq.heappush(heap, (t + 1, next(seq), p, ops, pos + 1, 0))
        index += 1
    return History(events)


def inject(run: Run, n: int, rng: random.Random) -> dict[str, int]:
    """Plant ``n`` violations of several kinds; returns how many of each were planted."""
    planted: Counter[str] = Counter()
    active = [b for b in run.bookings if b.active and b.origin == "api"]
    picks = rng.sample(active, min(len(active), 5 * n))
    by_uid = {a.booking_uid: a for a in run.appointments}
    for b in picks[:n]:                       # overbooked host slot
        run.bookings.append(UpstreamBooking(uid=b.uid + "x", status="accepted", start=b.start,
                                            end=b.end, host_ids=b.host_ids, origin="outside"))
        planted["double-booking"] += 1
    for b in picks[n:2 * n]:                  # handed to another caller
        b.origin, b.call_id = "outside", None
        planted["stolen-booking"] += 1
    for b in picks[2 * n:3 * n]:              # upstream cancelled, local still active
        b.status = "cancelled"
        planted["drift"] += 1
    for b in picks[3 * n:4 * n]:              # imported twice
        a = by_uid[b.uid]
        run.appointments.append(Appointment(
            id=10**9 + planted["duplicate-appointment"], company_id=a.company_id, call_id=None,
            booking_uid=b.uid, status="cancelled", start=a.start, end=a.end, host_id=a.host_id,
            source="webhook"))
        planted["duplicate-appointment"] += 1
    for b in picks[4 * n:5 * n]:              # booked for a call that was told "no"
        run.bookings.append(UpstreamBooking(uid=b.uid + "l", status="accepted", start=b.start,
                                            end=b.end, host_ids=(9999,), call_id=b.call_id))
        planted["duplicate-booking"] += 1
    return dict(planted)


#: The shared indexes, built once per run (their cost is listed on its own line).
INDEXES = ("operations", "ops_by_f", "ops_by_call", "told_booked", "booking_requests", "bookings_by_uid",
           "bookings_by_call", "appointments_by_uid")


def time_checks(run: Run) -> tuple[dict[str, float], Counter[str]]:
    """``run_all`` end to end (the total), and a breakdown: shared indexes, then each checker."""
    assert run.history is not None
    service = ServiceView(run.appointments, run.audit, run.processed)
    truth = GroundTruth(run.bookings, run.deliveries)
    timings: dict[str, float] = {}
    gc.collect()
    t = time.perf_counter()
    verdicts = run_all(History(run.history), service, truth)  # fresh: pairing is measured too
    timings["total"] = time.perf_counter() - t
    found: Counter[str] = Counter(v.kind for verdict in verdicts for v in verdict.violations)
    del verdicts

    gc.collect()
    gc.disable()  # as run_all does
    try:
        facts = Facts(History(run.history), service, truth)
        t = time.perf_counter()
        for name in INDEXES:
            getattr(facts, name)
        timings["indexes"] = time.perf_counter() - t
        for name, checker in CHECKERS.items():
            t = time.perf_counter()
            checker(facts)
            timings[name] = time.perf_counter() - t
    finally:
        gc.enable()
    return timings, found


def scan_baseline(history: History) -> float:
    """One pass over the history building a dict by call id: the memory-bound floor any
    linear checker pays per event at this size (caches stop helping as data grows)."""
    gc.disable()
    try:
        t = time.perf_counter()
        index: dict[str, Event] = {}
        for ev in history:
            if ev.call_id is not None:
                index[ev.call_id] = ev
        return time.perf_counter() - t
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="history sizes in operations (invoke+completion pairs)")
    parser.add_argument("--seed", type=int, default=20251006)
    parser.add_argument("--inject", type=int, default=0, metavar="N",
                        help="plant N violations of each of five kinds and count what is found")
    parser.add_argument("--io", action="store_true",
                        help="also time writing and loading the history as JSON lines")
    args = parser.parse_args(argv)
    if any(s <= 0 for s in args.sizes):
        parser.error("--sizes must be positive")

    rows = []
    for size in args.sizes:
        t = time.perf_counter()
        gc.disable()  # generation allocates millions of objects and no cycles
        try:
            run = Generator(size, args.seed).generate()
        finally:
            gc.enable()
        planted = inject(run, args.inject, random.Random(args.seed)) if args.inject else {}
        gen_s = time.perf_counter() - t
        assert run.history is not None
        io = ""
        if args.io:
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                path = run.history.dump(Path(tmp) / "history.jsonl")
                dump_s = time.perf_counter() - t
                t = time.perf_counter()
                History.load(path)
                io = f"   dump {dump_s:.2f} s, load {time.perf_counter() - t:.2f} s"
        timings, found = time_checks(run)
        timings["baseline"] = scan_baseline(run.history)
        rows.append((size, timings))
        print(f"\n{size:>9,} operations ({len(run.history):,} events, {len(run.bookings):,} "
              f"bookings, {len(run.appointments):,} appointments, "
              f"{len(run.deliveries):,} deliveries)   generated in {gen_s:.1f} s{io}")
        print(f"    {'pairing + shared indexes':<28} {timings['indexes']:8.3f} s")
        for name in CHECKERS:
            print(f"    {name:<28} {timings[name]:8.3f} s")
        print(f"    {'total (run_all)':<28} {timings['total']:8.3f} s   "
              f"{timings['total'] / size * 1e6:.2f} µs/operation, "
              f"{timings['total'] / timings['baseline']:.1f}× one bare scan of the history")
        if planted or found:
            print("    (one planted fault may break several invariants: a second appointment "
                  "for a uid is also drift, a second booking for a call is also lost)")
            for kind in sorted(set(planted) | set(found)):
                print(f"    {kind:<28} planted {planted.get(kind, 0):>4}  found {found[kind]:>4}")
        else:
            print("    no violations (a clean run)")
        del run
        gc.collect()
    if len(rows) > 1:
        print("\nscaling, time per operation relative to the smallest size "
              "(checkers, and a bare scan of the history for comparison):")
        base = rows[0][1]["total"] / rows[0][0]
        scan = rows[0][1]["baseline"] / rows[0][0]
        for size, timings in rows:
            print(f"    {size:>9,}  checkers ×{timings['total'] / size / base:.2f}   "
                  f"bare scan ×{timings['baseline'] / size / scan:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
