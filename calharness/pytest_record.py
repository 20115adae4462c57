"""Pytest plugin for `calharness verify`'s report: what each scenario injected, and what the run
left out.

* **Faults.** While a scenario runs, every fault it arms at the fake Cal.com (through its
  session's control client, docs/contracts.md §1.5) is noted with the fake's own ``matched`` and
  ``fired`` counters — read just before anything clears the plan (``clear_faults``,
  ``set_faults``, the reset between the state machine's examples) and once more at the end. The
  rows go into the JUnit XML as the ``faults`` property (JSON), where verify's fault matrix reads
  them. Scenarios that use no fake record nothing.
* **Not selected.** Scenarios ``-k`` (or an ablation's tag filter) deselected are written, with
  their markers, to the JSON-lines file ``CALHARNESS_DESELECTED_FILE`` names, so the report can
  say "not selected" instead of "no scenario".

Loaded with ``-p calharness.pytest_record`` by `calharness verify` (and its ablation runs);
scenarios need not know it exists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator
from typing import Any

import pytest

from fake_calcom.client import AsyncFakeControl
from harness.session import Session

DESELECTED_ENV = "CALHARNESS_DESELECTED_FILE"


def describe_trigger(trigger: dict[str, Any] | None) -> str:
    """``{"kind": "first", "k": 2}`` → ``first 2`` (the matrix's trigger column)."""
    trigger = trigger or {"kind": "always"}
    kind = str(trigger.get("kind", "always"))
    for key in ("k", "n", "p"):
        if key in trigger:
            return f"{kind} {trigger[key]}"
    return kind


def describe_endpoint(match: dict[str, Any]) -> str:
    if "webhook" in match:
        return f"webhook {match['webhook']}"
    return f"{match.get('method', '*')} {match.get('path', '*')}"


def describe_action(action: dict[str, Any]) -> str:
    """What distinguishes faults of one kind: a status's code and phase, a replay's key…"""
    kind = action.get("kind")
    if kind == "status":
        return f"{action.get('status')} {action.get('phase', 'before')}"
    if kind in ("hang", "reset"):
        return str(action.get("phase", "before"))
    if kind == "stale_replay":
        return f"key {action.get('key', 'email+start')}"
    if kind == "barrier":
        return f"{action.get('parties', '?')} parties, key {action.get('key', 'host_slot')}"
    if kind == "rewrite":
        return ", ".join(sorted(action.get("set", {})))
    return ""


class FaultLedger:
    """The faults one scenario armed, with the counters the fake kept for them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: list[dict[str, Any]] = []
        self._live: dict[str, dict[str, Any]] = {}   # fault name → its row, while in the plan
        self._undo: list[Callable[[], None]] = []

    # -- reading the fake ----------------------------------------------------------------------

    def _take(self, plan: dict[str, Any]) -> None:
        """Fold the plan's counters into the rows; a fault seen for the first time gets one."""
        for fault in plan.get("faults", []):
            name = str(fault.get("name"))
            row = self._live.get(name)
            if row is None:
                row = {"name": name, "kind": fault.get("action", {}).get("kind", "?"),
                       "endpoint": describe_endpoint(fault.get("match", {})),
                       "trigger": describe_trigger(fault.get("trigger")),
                       "detail": describe_action(fault.get("action", {})),
                       "matched": None, "fired": None}
                self._live[name] = row
                self.rows.append(row)
            row["matched"] = int(fault.get("matched", 0))
            row["fired"] = int(fault.get("fired", 0))

    def harvest(self) -> None:
        fake = self.session.fake
        if fake is not None:
            self._take(fake.faults())

    async def aharvest(self) -> None:
        fake = self.session.fake
        if fake is not None:
            async with AsyncFakeControl(fake.base_url) as control:
                self._take(await control.faults())

    def _forget(self) -> None:
        """The plan is about to be replaced: the next fault of the same name is a new one."""
        self._live.clear()

    # -- watching the scenario's control client ------------------------------------------------

    def install(self) -> None:
        fake = self.session.fake
        if fake is None:
            return
        for name in ("clear_faults", "set_faults"):
            original = getattr(fake, name)
            self._patch(fake, name, self._before(original))
        original_reset = self.session.reset_service

        async def reset_service(*args: Any, **kwargs: Any) -> Any:
            try:
                await self.aharvest()
            finally:
                self._forget()
            return await original_reset(*args, **kwargs)

        self._patch(self.session, "reset_service", reset_service)

    def _before(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                self.harvest()
            finally:
                self._forget()
            return original(*args, **kwargs)
        return call

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        had = name in vars(owner)
        old = vars(owner).get(name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, old) if had else delattr(owner, name))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    session = getattr(item, "funcargs", {}).get("session")
    if not isinstance(session, Session) or session.fake is None \
            or "faults" not in session.capabilities:
        return (yield)
    ledger = FaultLedger(session)
    ledger.install()
    try:
        return (yield)
    finally:
        ledger.uninstall()
        try:
            ledger.harvest()
        except Exception as exc:  # the record must never change a scenario's outcome
            item.user_properties.append(("faults_error", repr(exc)))
        item.user_properties.append(("faults", json.dumps(ledger.rows)))


def pytest_deselected(items: list[pytest.Item]) -> None:
    path = os.environ.get(DESELECTED_ENV)
    if not path or not items:
        return
    with open(path, "a", encoding="utf-8") as out:
        for item in items:
            area = next((str(m.args[0]) for m in item.iter_markers("area") if m.args), None)
            out.write(json.dumps({
                "nodeid": item.nodeid, "area": area,
                "rca": [str(a) for m in item.iter_markers("rca") for a in m.args],
                "defense": [str(a) for m in item.iter_markers("defense") for a in m.args],
            }) + "\n")
