"""The small world the state machine plays in.

Small on purpose: two slots, two names, two services. Collisions — the same slot, a namesake,
Cal.com's round-robin dedupe handing one caller another's booking — are what break a booking
service, and a small universe makes them likely within a few steps instead of rare.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from harness import faults as F

#: Every example starts at this frozen instant (a Monday, 08:00 Berlin): the same steps give the
#: same times, ages and answers on any day, so a reproducer replays the same way next year.
START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)

#: The slots callers and outside bookers ask for: (working days ahead, hour, minute) in Berlin.
#: Haarschnitt lasts 60 minutes, Teamtermin 30: both slots are apart enough not to overlap.
SLOTS: tuple[tuple[int, int, int], ...] = ((2, 9, 0), (2, 11, 0))

#: Services the machine books: Teamtermin is round robin over hosts 101 and 102 (Cal.com's
#: dedupe hands a create with the same e-mail and start the existing booking), Haarschnitt is
#: host 102 alone (a busy host is a plain refusal).
SERVICES: dict[str, int] = {"Teamtermin": 2004, "Haarschnitt": 2002}

#: Callers and outside bookers share these names (the Call 687/688 pair): namesakes are the point.
NAMES: tuple[str, ...] = ("Hans Schuster", "Hansi Sputer")

#: The call id an outside booking may carry in its metadata: an earlier call made it.
EARLIER_CALL = "call_0687"

#: How old an outside booking is when it is made (seconds): fresh, or well past the 30-s rule.
OUTSIDE_AGES: tuple[int, ...] = (0, 120)

#: How much time every step takes on the frozen clock (a call, a desk booking: seconds apart).
STEP_SECONDS = 2

#: How far the clock may jump in one step (seconds).
CLOCK_STEPS: tuple[int, ...] = (10, 40, 3600)

#: The service's Cal.com timeout during exploration: a hung upstream costs a quarter second.
CALCOM_TIMEOUT_S = 0.25

#: How long a forced race waits for every caller to arrive (only when the slot lock is off, see
#: Explorer.burst); how long a forced import race waits for its second party.
RACE_BARRIER_S = 0.5
IMPORT_BARRIER_S = 1.0


# The fault menu: Hypothesis draws a kind, an endpoint and a trigger; the directive is built here.

ENDPOINTS: dict[str, F.Endpoint] = {
    "create": F.CREATE, "slots": F.SLOTS, "cancel": F.CANCEL, "reschedule": F.RESCHEDULE,
    "list": F.LIST_BOOKINGS,
}

#: Fault kinds that only make sense on a create.
CREATE_ONLY = ("stale_replay_start", "stale_replay_email", "overbook", "slot_steal",
               "drop_created_at", "drop_metadata", "calcom_race")

#: Kinds that arm more than one directive: `calcom_race` is Cal.com's own race inside a create —
#: someone else takes the host in the same instant (slot_steal) and Cal.com accepts ours as well
#: (overbook). Drawn as two separate arms it needs two rare draws in one sequence; the CI budget
#: would meet it once in hundreds of sequences.
COMPOSITE: dict[str, tuple[str, ...]] = {"calcom_race": ("slot_steal", "overbook")}

#: Fault kinds on webhook deliveries.
WEBHOOK = ("webhook_duplicate", "webhook_reorder", "webhook_drop", "webhook_bad_signature")


# How often each thing is drawn. Uniform draws would spend most steps on generic upstream errors
# and bookkeeping; the incidents come from collisions (two callers, a caller and the desk) and
# from Cal.com handing back the wrong booking, so those are drawn more often. Hypothesis also
# draws the first entry more often than the rest (and shrinks towards it), so the first entry is
# the most common thing in the world: a caller booking.

ACTION_WEIGHTS: dict[str, int] = {
    "book": 4, "deliver": 2, "advance": 1, "check": 1, "book_taken": 3, "retry": 2, "burst": 2,
    "cancel": 1, "reschedule": 1, "outside_take": 3, "outside_cancel": 1, "arm": 3, "crash": 1,
    "reconcile": 1, "import_race": 1,
}

FAULT_WEIGHTS: dict[str, int] = {
    "overbook": 3, "503_before": 1, "503_after": 1, "500_after": 1, "409_before": 1, "429_before": 1,
    "hang_after": 1, "reset_before": 1, "truncate": 1, "malformed": 1,
    "webhook_duplicate": 1, "webhook_reorder": 1, "webhook_drop": 1, "webhook_bad_signature": 1,
    "stale_replay_start": 2, "stale_replay_email": 1, "slot_steal": 2,
    "drop_created_at": 2, "drop_metadata": 1, "calcom_race": 2,
}

FAULT_ENDPOINTS: tuple[str, ...] = ("create", "slots", "cancel", "reschedule", "list")

TRIGGER_WEIGHTS: dict[str, int] = {"always": 2, "first1": 1, "first2": 1, "nth2": 1}


def _trigger(name: str) -> dict[str, Any]:
    return {"first1": {"first": 1}, "first2": {"first": 2}, "always": {},
            "nth2": {"nth": 2}}[name]


def _action(kind: str) -> dict[str, Any]:
    if kind.endswith(("_before", "_after")) and kind[:3].isdigit():
        return F.status(int(kind[:3]), kind.split("_", 1)[1])
    return {
        "hang_after": F.hang("after"), "reset_before": F.reset("before"),
        "truncate": F.truncate(), "malformed": F.malformed(),
        "stale_replay_start": F.stale_replay("start"),
        "stale_replay_email": F.stale_replay("email+start"),
        "overbook": F.overbook(), "slot_steal": F.slot_steal(),
        "drop_created_at": F.rewrite(**{"data.createdAt": None}),
        "drop_metadata": F.rewrite(**{"data.metadata": {}}),
    }[kind]


def fault_directives(kind: str, endpoint: str, trigger: str, n: int) -> list[dict[str, Any]]:
    """The fake's directives for one drawn fault: one, or a composite's parts (same trigger)."""
    parts = COMPOSITE.get(kind)
    if parts is None:
        return [fault_directive(kind, endpoint, trigger, n)]
    return [{**fault_directive(part, endpoint, trigger, n), "name": f"f{n}-{kind}-{part}"}
            for part in parts]


def fault_directive(kind: str, endpoint: str, trigger: str, n: int) -> dict[str, Any]:
    """The fake's directive for one drawn fault (`n` keeps names unique within an example)."""
    name = f"f{n}-{kind}"
    if kind in WEBHOOK:
        action = {"webhook_duplicate": F.webhook_duplicate(), "webhook_reorder": F.webhook_reorder(),
                  "webhook_drop": F.webhook_drop(),
                  "webhook_bad_signature": F.webhook_bad_signature()}[kind]
        return F.webhook_fault(name, action, **_trigger(trigger))
    on = ENDPOINTS["create" if kind in CREATE_ONLY else endpoint]
    return F.fault(name, _action(kind), on=on, **_trigger(trigger))
