"""The state machine's actions on a World, its model, and the invariants checked after each step.

An `Explorer` is plain code with no Hypothesis in it: the machine (machine.py) draws `Step`s and
hands them to `apply`, and a found reproducer (scenarios/found/) replays its step list through the
same `apply`. What the machine found is what the reproducer runs.

The model keeps what each caller was told and who holds which slot as far as the callers and the
outside world know. It predicts what must happen when nothing can excuse a refusal (no fault armed,
no crash, nobody at the slot, no outside change): a new caller is booked, a booked caller's retry
gets the same booking back, a booked caller's cancel cancels. The harness's checkers judge the
rest after every step: no double booking (Cal.com's hosts and the service's slots), one appointment
per booking uid, no stolen booking, no lost booking, no phantom, webhooks applied once, tenants
kept apart; and, once the webhooks are delivered and a repairing reconciliation has run at the
end, the service agrees with Cal.com.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from harness.checks import CheckOptions, Verdict, run_all
from harness.checks.verdict import DOUBLE_BOOKING
from harness.clients.service import Answer
from harness.slots import Slot, parse_z
from harness.world import World
from scenarios.explore import universe as U

#: Checkers that hold after every step. Two judge the end only, once the held webhooks are
#: delivered: `db-matches-calcom` (an outside cancel is news to the service until its webhook
#: arrives) and `local-slot-exclusive` (for the same reason the service's table may still show the
#: cancelled desk booking next to the caller who rightly took the freed slot; Cal.com's hosts,
#: `host-slot-exclusive`, are judged at every step).
STEP_CHECKERS = ("host-slot-exclusive", "one-appointment-per-booking",
                 "no-stolen-booking", "no-lost-booking", "no-phantom-booking",
                 "webhook-applied-once", "tenant-isolation")


class ModelMismatch(AssertionError):
    """The service answered something the model says nothing could excuse."""


class RepairFailed(RuntimeError):
    """A repair step the end-of-run judgement relies on did not succeed (the reconciliation was
    refused, the webhooks did not drain): an error of the run, never a verdict on the service —
    judged without its repair, every booking the repair would have imported would read as lost."""


class InvariantViolated(AssertionError):
    """A harness checker found a violation after a step."""

    def __init__(self, verdicts: list[Verdict]) -> None:
        self.verdicts = verdicts
        super().__init__("invariants violated:\n" + "\n".join(str(v) for v in verdicts))


@dataclass(frozen=True)
class Step:
    """One action with its arguments, as drawn (JSON-friendly, for reproducers)."""

    action: str
    args: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "args": self.args}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(data["action"], dict(data.get("args") or {}))

    def __str__(self) -> str:
        args = ", ".join(f"{k}={json.dumps(v)}" for k, v in self.args.items())
        return f"{self.action}({args})"


@dataclass
class Caller:
    """One phone call as the model knows it."""

    call_id: str
    name: str
    slot: int
    service: str
    told: str | None = None  # the last status the service gave this call
    appointment_id: int | None = None
    booking_uid: str | None = None
    holds: bool = False  # told booked/rescheduled and not cancelled since


@dataclass
class Model:
    callers: list[Caller] = field(default_factory=list)
    outside: dict[str, tuple[int, int]] = field(default_factory=dict)  # uid -> (slot, name)
    faults_armed: int = 0
    crashes: int = 0
    touched: set[int] = field(default_factory=set)  # slots someone changed in Cal.com directly
    undelivered: set[str] = field(default_factory=set)  # desk bookings whose webhook is queued
    #: bookings Cal.com overbooked and an armed fault kept the service from taking back
    undo_refused: set[str] = field(default_factory=set)
    overbooks: set[str] = field(default_factory=set)  # names of armed overbook directives

    def holders(self, slot: int) -> list[str]:
        held = [c.call_id for c in self.callers if c.holds and c.slot == slot]
        return held + [uid for uid, (s, _) in self.outside.items() if s == slot]

    def held(self) -> list[tuple[int, int]]:
        """(slot, name) of every booking the model knows to be active, callers' then outside."""
        return [(c.slot, U.NAMES.index(c.name)) for c in self.callers if c.holds] + \
            sorted(self.outside.values())

    @property
    def quiet(self) -> bool:
        """Nothing armed and nothing crashed: a refusal would need a reason in the model."""
        return self.faults_armed == 0 and self.crashes == 0


class Explorer:
    """Applies steps to a world (a clean one: `world_for` or the scenario fixture)."""

    def __init__(self, world: World, *, calls_prefix: str = "call") -> None:
        self.world = world
        self.model = Model()
        self.steps: list[Step] = []
        self._prefix = calls_prefix
        world.freeze(U.START)
        world.fake.hold_webhooks(True)
        self._timeout = world.calcom_timeout(U.CALCOM_TIMEOUT_S)
        self._timeout.__enter__()

    def close(self) -> None:
        self._timeout.__exit__(None, None, None)
        self.world.clear_failpoint()

    # -- applying ---------------------------------------------------------------------------------

    def resolve(self, action: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Turn a drawn step into the one to apply: `which`/`caller` become an index into what
        exists, "a different caller books a slot someone holds" becomes a plain `book` of that
        slot (so a reproducer reads simply). None when there is nothing to act on yet."""
        callers = self.model.callers
        if action in ("retry", "cancel", "reschedule"):
            if not callers:
                return None
            return action, self._in_order(action, {**args,
                                                   "caller": args["caller"] % len(callers)})
        if action == "book_taken":
            held = self.model.held()
            if not held:
                return None
            slot, name = held[args["which"] % len(held)]
            name = name if args["namesake"] else (name + 1) % len(U.NAMES)
            return "book", {"slot": slot, "service": args["service"], "name": name}
        return action, self._in_order(action, args)

    def _in_order(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        """Arguments in the order `do_<action>` declares them (reproducers read the same way)."""
        names = list(inspect.signature(getattr(self, f"do_{action}")).parameters)
        return {name: args[name] for name in names if name in args}

    def apply(self, step: Step) -> None:
        """Run one step, then check every invariant that holds at any moment. Each step takes
        `STEP_SECONDS` of the frozen clock: phone calls and desk bookings are not simultaneous."""
        self.steps.append(step)
        self.world.clock.advance(U.STEP_SECONDS)
        getattr(self, f"do_{step.action}")(**step.args)
        self.check_step()

    def slot(self, index: int) -> Slot:
        days, hour, minute = U.SLOTS[index]
        return self.world.slot(days_ahead=days, hour=hour, minute=minute)

    def _new_caller(self, name: str, slot: int, service: str) -> Caller:
        caller = Caller(f"{self._prefix}_{len(self.model.callers) + 1:04d}", name, slot, service)
        self.model.callers.append(caller)
        return caller

    def _heard(self, caller: Caller, answer: Answer) -> None:
        caller.told = answer.status
        if answer.status in ("booked", "rescheduled"):
            caller.holds = True
            caller.appointment_id = answer.body.get("appointment_id")
            caller.booking_uid = answer.body.get("booking_uid")

    def _expect(self, condition: bool, message: str, answer: Answer) -> None:
        if not condition:
            raise ModelMismatch(f"{message}; the service answered {answer.http_status} "
                                f"{json.dumps(answer.body, default=str)[:600]}")

    # -- caller actions ---------------------------------------------------------------------------

    def do_check(self, slot: int, service: str) -> None:
        """A new caller asks whether the slot is free (and may book it later: `retry`)."""
        caller = self._new_caller(U.NAMES[0], slot, service)
        self.world.driver.check(self.slot(slot), call_id=caller.call_id, service=service)

    def do_book(self, slot: int, service: str, name: int) -> None:
        """A new caller books; or, when the last caller only checked, that caller books."""
        free = not self.model.holders(slot) and slot not in self.model.touched
        caller = self._new_caller(U.NAMES[name], slot, service)
        answer = self.world.driver.collect(self.slot(slot), name=caller.name,
                                           call_id=caller.call_id, service=service)
        self._heard(caller, answer)
        if self.model.quiet and free:
            self._expect(answer.status == "booked",
                         f"{caller.call_id} asked for a free slot {slot} with nothing armed", answer)

    def do_retry(self, caller: int, rename: bool = False) -> None:
        """The voice agent sends the same call's booking again (a timeout, a re-prompt; or a
        caller who only checked books now — the 14-second race). With `rename` the caller gives
        the other name this time (the agent misheard, the caller corrected it)."""
        who = self.model.callers[caller]
        if rename:
            who.name = U.NAMES[(U.NAMES.index(who.name) + 1) % len(U.NAMES)]
        was = (who.holds and not rename, who.booking_uid)
        answer = self.world.driver.collect(self.slot(who.slot), name=who.name,
                                           call_id=who.call_id, service=who.service)
        if was[0] and self.model.quiet and who.slot not in self.model.touched:
            self._expect(answer.status == "booked" and answer.body.get("booking_uid") == was[1],
                         f"{who.call_id} holds {was[1]} and retried with nothing armed", answer)
        if answer.status == "booked" or not who.holds:
            self._heard(who, answer)

    def do_burst(self, slot: int, service: str, names: list[int]) -> None:
        """len(names) new callers ask for one slot at the same instant.

        Without the slot lock every caller is held right after the availability double-check
        until all have passed it (the worst interleaving, forced, not hoped for). With the lock on,
        the lock decides the order and a barrier inside it could only wait out its timeout, so
        none is installed (the same rule as scenarios/races/_support.force_race)."""
        free = not self.model.holders(slot) and slot not in self.model.touched
        callers = [self._new_caller(U.NAMES[n], slot, service) for n in names]
        forced = not self.world.defense_on("slot_lock")
        if forced:
            self.world.barrier("collect.after_double_check", parties=len(callers),
                               timeout_s=U.RACE_BARRIER_S)
        driver, at = self.world.driver, self.slot(slot)
        try:
            answers = driver.concurrently([
                (lambda c=c: driver.acollect(at, name=c.name, call_id=c.call_id, service=service))
                for c in callers])
        finally:
            if forced:
                self.world.clear_failpoint("collect.after_double_check")
        for caller, answer in zip(callers, answers, strict=True):
            self._heard(caller, answer)
        if self.model.quiet and free:
            self._expect(any(a.status == "booked" for a in answers),
                         f"{len(callers)} callers raced for a free slot {slot} with nothing "
                         "armed and none was booked", answers[0])

    def do_cancel(self, caller: int) -> None:
        who = self.model.callers[caller]
        was_holding = who.holds
        answer = self.world.driver.cancel(call_id=who.call_id, appointment_id=who.appointment_id,
                                          slot=None if who.appointment_id else self.slot(who.slot))
        if answer.status in ("cancelled", "already_cancelled"):
            who.holds = False
        if was_holding and self.model.quiet and who.slot not in self.model.touched:
            self._expect(answer.status == "cancelled",
                         f"{who.call_id} holds a booking and cancelled it with nothing armed",
                         answer)

    def do_reschedule(self, caller: int, slot: int) -> None:
        who = self.model.callers[caller]
        answer = self.world.driver.reschedule(
            call_id=who.call_id, new_slot=self.slot(slot), appointment_id=who.appointment_id,
            old_slot=None if who.appointment_id else self.slot(who.slot))
        if answer.status == "rescheduled":
            who.slot = slot
            self._heard(who, answer)

    # -- the outside world ------------------------------------------------------------------------

    def do_outside_take(self, slot: int, service: str, name: int, age: int,
                        earlier_call: bool) -> None:
        """Someone books directly in Cal.com with the practice's fallback e-mail (the front desk
        booking a phone customer), maybe long ago, maybe from an earlier call."""
        metadata = {"call_id": U.EARLIER_CALL} if earlier_call else None
        try:
            booking = self.world.driver.take_slot(
                U.SERVICES[service], self.slot(slot), name=U.NAMES[name],
                email=self.world.berlin.fallback_email, metadata=metadata,
                age_s=U.OUTSIDE_AGES[age])
        except Exception:  # the host is busy: Cal.com refused, nothing changed
            return
        self.model.outside[booking["uid"]] = (slot, name)
        self.model.undelivered.add(booking["uid"])
        self.model.touched.add(slot)

    def do_outside_cancel(self, which: int) -> None:
        """Someone cancels a booking in Cal.com directly (front desk, the e-mail link)."""
        active = sorted(self.world.upstream(), key=lambda b: b["uid"])
        if not active:
            return
        booking = active[which % len(active)]
        uid = booking["uid"]
        self.model.touched.add(self._slot_of(booking["start"]))
        # Through the fake's control plane: the desk is the harness's own action, and an armed
        # fault on cancel (a hang) is meant for the service, not for it.
        self.world.desk_cancel(uid)
        self.model.outside.pop(uid, None)

    def _slot_of(self, start: str) -> int:
        for index in range(len(U.SLOTS)):
            if self.slot(index).start_dt == parse_z(start):
                return index
        return -1

    def do_advance(self, seconds: int) -> None:
        self.world.clock.advance(seconds)
        self._note("clock", {"advance_s": seconds})

    def do_arm(self, kind: str, endpoint: str, trigger: str) -> None:
        self.model.faults_armed += 1
        for directive in U.fault_directives(kind, endpoint, trigger, self.model.faults_armed):
            self.world.arm(directive)
            if directive["action"]["kind"] == "overbook":
                self.model.overbooks.add(directive["name"])
            self._note("fault", directive)

    def do_crash(self) -> None:
        """The next booking's service process dies after Cal.com said yes, before it stored the
        appointment (the caller hears an error; Cal.com holds the booking)."""
        self.model.crashes += 1
        self.world.crash_at("collect.before_insert")
        self._note("fault", {"crash_at": "collect.before_insert"})

    def do_deliver(self) -> None:
        """Cal.com's queued webhooks arrive (with whatever webhook faults are armed)."""
        self.world.settle()
        self.model.undelivered.clear()

    def do_reconcile(self, repair: bool) -> None:
        self.world.driver.reconcile(self.world.berlin.api_key, repair=repair)

    def do_import_race(self) -> None:
        """A repairing reconciliation runs while the webhooks arrive, each importer held between
        its uid check and its insert until the other is there too (when both import one booking;
        otherwise the lone importer would wait out a second, so the barrier is only set while a
        desk booking's webhook is queued)."""
        world = self.world
        if self.model.undelivered:
            world.barrier(["webhook.before_insert", "reconcile.before_insert"], parties=2,
                          timeout_s=U.IMPORT_BARRIER_S)
        self.model.undelivered.clear()
        driver = world.driver
        try:
            driver.concurrently([
                lambda: driver.areconcile(world.berlin.api_key, repair=True),
                lambda: driver.fake.flush_webhooks(),
            ])
        finally:
            for name in ("webhook.before_insert", "reconcile.before_insert"):
                world.clear_failpoint(name)

    def _note(self, f: str, value: dict[str, Any]) -> None:
        self.world.recorder.invoke("explorer", f, None, None, value).ok(value)

    # -- invariants -------------------------------------------------------------------------------

    def check_step(self) -> None:
        world = self.world
        verdicts = run_all(world.history(), world.service_view(), world.ground_truth(),
                           only=STEP_CHECKERS)
        failed = [v for v in map(self._excused, verdicts) if not v.ok]
        if failed:
            raise InvariantViolated(failed)

    def _excused(self, verdict: Verdict) -> Verdict:
        """A double booking Cal.com made and kept from the service.

        Cal.com may accept a create for a host someone holds (overbook); a service that notices
        cancels its booking again. When an armed fault refused that cancel, or refused the
        service's look at the bookings after the create, no service could do more than the
        double booking Cal.com made. Excused: a double booking, first seen in this step, one of
        whose bookings an armed overbook let through, after which the fake's journal shows the
        booking list or that booking's cancel answered by an armed fault; from then on it stays
        excused. Never one nobody was kept from undoing: with the after-create look off
        (availability_double_check), an overbooked double booking with a healthy list is not.
        """
        if verdict.ok or not any(v.kind == DOUBLE_BOOKING for v in verdict.violations):
            return verdict
        blamed = self._kept_from_undo() if verdict.name == "host-slot-exclusive" else set()
        kept = []
        for violation in verdict.violations:
            uids = {b.uid for b in violation.bookings} | \
                {a.booking_uid for a in violation.appointments if a.booking_uid}
            if violation.kind == DOUBLE_BOOKING:
                self.model.undo_refused |= uids & blamed
                if uids & self.model.undo_refused:
                    continue
            kept.append(violation)
        return Verdict.of(verdict.name, kept, verdict.checked)

    def _kept_from_undo(self) -> set[str]:
        """Uids of bookings an armed overbook let Cal.com create, after which an armed fault
        answered a booking list or that booking's cancel (the fake's journal)."""
        entries = self.world.fake.journal()["entries"]
        made: dict[str, int] = {}
        for e in entries:
            body = e.get("response_body")
            data = body.get("data") if isinstance(body, dict) else None
            if e["method"] == "POST" and e["path"].rstrip("/") == "/v2/bookings" and \
                    set(e.get("faults") or ()) & self.model.overbooks and isinstance(data, dict) \
                    and data.get("uid"):
                made[str(data["uid"])] = e["seq"]
        return {uid for uid, seq in made.items() for e in entries
                if e["seq"] > seq and e.get("faults") and (
                    (e["method"] == "GET" and e["path"].split("?")[0].rstrip("/") == "/v2/bookings")
                    or (e["method"] == "POST" and e["path"] == f"/v2/bookings/{uid}/cancel"))}

    def check_end(self) -> list[Verdict]:
        """Deliver what Cal.com still holds back, reconcile with repair, judge everything."""
        world = self.world
        world.fake.clear_faults()  # the end-of-run repair itself runs on a healthy upstream
        world.clear_failpoint()
        world.settle()
        self._repair()
        world.settle()
        verdicts = [self._excused(v) for v in run_all(
            world.history(), world.service_view(), world.ground_truth(),
            options=CheckOptions(reconciled=True))]
        world.judged = True
        world.last_verdicts = verdicts
        failed = [v for v in verdicts if not v.ok]
        if failed:
            raise InvariantViolated(failed)
        return verdicts


    def _repair(self) -> None:
        """The end-of-run repairing reconciliation, checked: it must answer a report."""
        answer = self.world.driver.reconcile(self.world.berlin.api_key, repair=True)
        if answer.http_status != 200 or not isinstance(answer.body, dict) \
                or "repaired" not in answer.body:
            raise RepairFailed(
                "the end-of-run repair (POST /api/reconcile with repair) did not succeed although "
                f"every fault was cleared: {answer.http_status} "
                f"{json.dumps(answer.body, default=str)[:300] if answer.body else answer.error}")


def replay(world: World, steps: list[dict[str, Any]] | list[Step]) -> Explorer:
    """Run a step list (a reproducer's) on a clean world and judge it like the machine does."""
    explorer = Explorer(world)
    try:
        for step in steps:
            explorer.apply(step if isinstance(step, Step) else Step.from_json(step))
        explorer.check_end()
    finally:
        explorer.close()
    return explorer
