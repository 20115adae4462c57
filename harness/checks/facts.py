"""Indexes shared by the checkers, each built once, in one pass, on first use.

Every checker works per key (host, slot, call, booking uid, delivery); these dictionaries are the
keys. Building them is linear in the history and the two states, so ``run_all`` stays linear.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, TypeVar

from harness.checks.inputs import (
    Appointment,
    GroundTruth,
    ServiceView,
    UpstreamBooking,
    instant,
)
from harness.checks.verdict import MAX_EVIDENCE_OPERATIONS
from harness.history import History, Operation, booking_uid_of


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """Knobs for one run of the checkers.

    * ``service_key_owners`` — the Cal.com users (API key owners) the service books with; only
      their API bookings can be phantoms. ``None``: every API booking is the service's.
    * ``expect_imported`` — every active upstream booking must have a local appointment (true
      after a ``reconcile --repair``); by default only local → upstream drift is reported.
    * ``reconciled`` — the run ended with a reconciliation that repairs: an unknown (``info``)
      outcome no longer excuses a booking made for a call that the service has no appointment
      for (the "vice versa after reconciliation" of the lost-booking invariant).
    * ``zone`` — the practice's time zone, in which callers are told dates and times.
    """

    service_key_owners: frozenset[int] | None = None
    expect_imported: bool = False
    reconciled: bool = False
    zone: str = "Europe/Berlin"


#: Operations through which a caller asks the service to book.
BOOKING_REQUESTS = ("collect", "reschedule")


class _Timed(Protocol):
    start_s: int | None
    end_s: int | None


T = TypeVar("T", bound=_Timed)


def overlapping_groups(items: Iterable[T]) -> Iterator[list[T]]:
    """Groups of two or more items whose [start, end) intervals overlap (a sweep over the items
    sorted by start; an item without a usable end occupies its start instant)."""
    timed = sorted((i for i in items if i.start_s is not None),
                   key=lambda i: (i.start_s, i.end_s or 0))
    group: list[T] = []
    group_end = 0
    for item in timed:
        start = item.start_s
        assert start is not None
        end = item.end_s if item.end_s is not None and item.end_s > start else start + 1
        if group and start < group_end:
            group.append(item)
            group_end = max(group_end, end)
        else:
            if len(group) > 1:
                yield group
            group, group_end = [item], end
    if len(group) > 1:
        yield group


def asks_to_book(op: Operation) -> bool:
    """Whether an operation asked the service to create a booking (a ``collect`` with
    ``bestaetigung: false`` only checks)."""
    if op.f not in BOOKING_REQUESTS:
        return False
    request: Any = op.request
    if isinstance(request, dict):
        nested = request.get("args")
        args = nested if isinstance(nested, dict) else request
        if args.get("bestaetigung") is False:
            return False
    return True


def tells_booked(op: Operation) -> bool:
    """Whether the service told the caller it now holds a booking."""
    if op.type != "ok" or op.completion is None:
        return False
    answer = op.completion.value
    if type(answer) is not dict:
        return False
    status = answer.get("status")
    return (status == "booked" and op.f == "collect") or (
        status == "rescheduled" and op.f == "reschedule")


class Facts:
    """The three inputs of a check run and the indexes over them."""

    def __init__(self, history: History | None, service: ServiceView | None,
                 truth: GroundTruth | None, options: CheckOptions | None = None) -> None:
        self.history = history
        self.service = service
        self.truth = truth
        self.options = options or CheckOptions()

    # -- history -----------------------------------------------------------------------------

    @cached_property
    def operations(self) -> Sequence[Operation]:
        return self.history.operations if self.history is not None else []

    @cached_property
    def ops_by_f(self) -> dict[str, list[Operation]]:
        """Operations by function (``collect``, ``read``, …), so a checker reads only its own."""
        index: dict[str, list[Operation]] = defaultdict(list)
        for op in self.operations:
            index[op.f].append(op)
        return index

    def ops_of(self, *functions: str) -> Iterable[Operation]:
        """The operations of these functions (grouped by function, each group in order)."""
        if len(functions) == 1:
            return self.ops_by_f.get(functions[0], [])
        return itertools.chain.from_iterable(self.ops_by_f.get(f, ()) for f in functions)

    @cached_property
    def ops_by_call(self) -> dict[str, list[Operation]]:
        index: dict[str, list[Operation]] = defaultdict(list)
        for op in self.operations:
            if op.call_id is not None:
                index[op.call_id].append(op)
        return index

    @cached_property
    def ops_by_uid(self) -> dict[str, list[Operation]]:
        """Operations whose answer names a booking uid."""
        index: dict[str, list[Operation]] = defaultdict(list)
        for op in self.operations:
            completion = op.completion
            if completion is not None and type(completion.value) is dict:
                uid = booking_uid_of(completion.value)
                if uid is not None:
                    index[uid].append(op)
        return index

    @cached_property
    def told_booked(self) -> dict[tuple[str, str], list[Operation]]:
        """(call id, booking uid) → the operations that told that caller they hold it. An answer
        that names no Cal.com booking (a service of its own references) is resolved through the
        attribution: the call's active booking at the start it was told; see `told_unnamed`."""
        index: dict[tuple[str, str], list[Operation]] = {}
        for op in self.ops_of(*BOOKING_REQUESTS):
            if op.call_id is not None and tells_booked(op):
                uid = booking_uid_of(op.answer) or self._attributed_uid(op)
                if uid is not None:
                    key = (op.call_id, uid)
                    ops = index.get(key)
                    if ops is None:
                        index[key] = [op]
                    else:
                        ops.append(op)
        return index

    @cached_property
    def told_unnamed(self) -> list[Operation]:
        """Operations that told a caller "booked" naming no Cal.com booking, where Cal.com holds
        none made for that call at that start: what the caller was told is not true."""
        return [op for op in self.ops_of(*BOOKING_REQUESTS)
                if op.call_id is not None and tells_booked(op)
                and booking_uid_of(op.answer) is None and self._attributed_uid(op) is None]

    def _attributed_uid(self, op: Operation) -> str | None:
        """The call's active Cal.com booking at the start an answer told (else the asked one)."""
        answer = op.answer if isinstance(op.answer, dict) else {}
        start = instant(answer.get("start")) or instant(op.slot)
        for b in self.bookings_by_call.get(op.call_id or "", ()):
            if b.active and b.start_s == start:
                return b.uid
        return None

    @cached_property
    def booking_requests(self) -> dict[tuple[str, int | None], list[Operation]]:
        """(call id, requested start) → the operations that asked to book it (start ``None``
        when the operation named no slot)."""
        index: dict[tuple[str, int | None], list[Operation]] = defaultdict(list)
        for op in self.ops_of(*BOOKING_REQUESTS):
            if op.call_id is not None and asks_to_book(op):
                index[(op.call_id, instant(op.slot))].append(op)
        return index

    def requests_for(self, call_id: str | None, start_s: int | None) -> list[Operation]:
        """The booking requests of a call that targeted this start (or named no slot)."""
        if call_id is None:
            return []
        return (self.booking_requests.get((call_id, start_s), [])
                + self.booking_requests.get((call_id, None), []))

    @cached_property
    def rescheduled_into(self) -> dict[str, set[str]]:
        """booking uid → the calls whose reschedule was answered with it."""
        index: dict[str, set[str]] = defaultdict(set)
        for (call_id, uid), ops in self.told_booked.items():
            if any(op.f == "reschedule" for op in ops):
                index[uid].add(call_id)
        return index

    @cached_property
    def reschedule_instants(self) -> set[int]:
        """Every new start some reschedule operation asked for."""
        return {s for op in self.ops_of("reschedule") if (s := instant(op.slot)) is not None}

    def evidence(self, call_ids: Iterable[str | None] = (),
                 uids: Iterable[str | None] = ()) -> list[Operation]:
        """The operations of these calls and those whose answers name these uids, in order."""
        seen: dict[int, Operation] = {}
        for call_id in call_ids:
            if call_id is not None:
                for op in self.ops_by_call.get(call_id, ()):
                    seen[op.index] = op
        for uid in uids:
            if uid is not None:
                for op in self.ops_by_uid.get(uid, ()):
                    seen[op.index] = op
        return [seen[i] for i in sorted(seen)][:MAX_EVIDENCE_OPERATIONS]

    # -- ground truth --------------------------------------------------------------------------

    @cached_property
    def bookings_by_uid(self) -> dict[str, UpstreamBooking]:
        return {b.uid: b for b in self.truth.bookings} if self.truth is not None else {}

    @cached_property
    def bookings_by_call(self) -> dict[str, list[UpstreamBooking]]:
        """call id → the API bookings whose creation metadata names that call."""
        index: dict[str, list[UpstreamBooking]] = defaultdict(list)
        if self.truth is not None:
            for b in self.truth.bookings:
                if b.origin == "api" and b.call_id is not None:
                    index[b.call_id].append(b)
        return index

    def made_for(self, booking: UpstreamBooking) -> set[str]:
        """The calls an API booking was made for: its creation ``call_id`` and those of the
        bookings it was rescheduled from, plus callers whose reschedule produced it. An outside
        booking was made for no call."""
        if booking.origin != "api":
            return set()
        calls: set[str] = set()
        current: UpstreamBooking | None = booking
        seen: set[str] = set()
        while current is not None and current.origin == "api" and current.uid not in seen:
            seen.add(current.uid)
            if current.call_id is not None:
                calls.add(current.call_id)
            parent = current.rescheduled_from_uid
            current = self.bookings_by_uid.get(parent) if parent else None
        if booking.rescheduled_from_uid:
            calls |= self.rescheduled_into.get(booking.uid, set())
        return calls

    # -- service -----------------------------------------------------------------------------

    @cached_property
    def appointments(self) -> list[Appointment]:
        return self.service.appointments if self.service is not None else []

    @cached_property
    def appointments_by_uid(self) -> dict[str, list[Appointment]]:
        index: dict[str, list[Appointment]] = defaultdict(list)
        for a in self.appointments:
            if a.booking_uid is not None:
                index[a.booking_uid].append(a)
        return index

    @cached_property
    def appointments_by_id(self) -> dict[object, Appointment]:
        return {a.id: a for a in self.appointments}

    @cached_property
    def appointments_by_call(self) -> dict[str, list[Appointment]]:
        index: dict[str, list[Appointment]] = defaultdict(list)
        for a in self.appointments:
            if a.call_id is not None:
                index[a.call_id].append(a)
        return index
