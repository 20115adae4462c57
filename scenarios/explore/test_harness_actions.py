"""The machine's own actions stay out of the faults it arms, and its repair is checked.

The desk (someone at the practice cancelling in Cal.com) is the harness acting, not the service:
a `hang` armed on cancel is meant for the service's cancels. Through Cal.com's public API the
desk's cancel was caught by it and waited out the hang (120 s in a deep run) before failing.
"""

from __future__ import annotations

import pytest

from harness import faults as F
from harness.clients.service import Answer
from harness.world import World
from scenarios.explore.explorer import Explorer, RepairFailed, Step, replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]


def test_the_desk_cancel_passes_no_armed_fault(world: World) -> None:
    explorer = Explorer(world)
    try:
        explorer.apply(Step("book", {"slot": 0, "service": "Haarschnitt", "name": 0}))
        (booked,) = world.upstream()
        # A hang that gives up after a second: were the desk caught, it fires and the cancel fails.
        world.arm(F.fault("desk-hang", {**F.hang("before"), "max_ms": 1000}, on=F.CANCEL),
                  F.fault("desk-503", F.status(503, "before"), on=F.CANCEL))
        explorer.apply(Step("outside_cancel", {"which": 0}))
        assert world.fired("desk-hang") == world.fired("desk-503") == 0
        assert world.upstream() == []
        (cancelled,) = world.upstream(active=False)
        assert (cancelled["uid"], cancelled["status"]) == (booked["uid"], "cancelled")
        explorer.check_end()
    finally:
        explorer.close()


def test_a_refused_repair_is_an_error_of_the_run(world: World,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted refusal of the end-of-run reconciliation (what the open circuit answered) stops
    the judgement as a harness error, instead of judging the drift it left as lost bookings."""
    explorer = Explorer(world)
    try:
        explorer.apply(Step("crash", {}))
        explorer.apply(Step("book", {"slot": 0, "service": "Haarschnitt", "name": 0}))
        refused = Answer(502, {"error": "calcom_unavailable",
                               "message": "Cal.com could not be read: circuit_open"})
        monkeypatch.setattr(world.driver, "reconcile", lambda *a, **kw: refused)
        with pytest.raises(RepairFailed, match="circuit_open"):
            explorer.check_end()
    finally:
        explorer.close()


@pytest.mark.defense("availability_double_check")
def test_a_double_booking_is_excused_only_when_cal_com_refused_its_undo(world: World) -> None:
    """Cal.com accepts a create inside its own race and then refuses every cancel: the service's
    after-create look tries to take its booking back and cannot; the double booking is Cal.com's
    and the model excuses it. With the after-create look off (availability_double_check off)
    nobody tries to undo it: not excused, the replay fails (the ablation's check)."""
    steps = [Step("arm", {"kind": "calcom_race", "endpoint": "create", "trigger": "always"}),
             Step("arm", {"kind": "503_before", "endpoint": "cancel", "trigger": "always"}),
             Step("book", {"slot": 0, "service": "Haarschnitt", "name": 0})]
    explorer = replay(world, steps)
    assert explorer.model.undo_refused
