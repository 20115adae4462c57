"""The outside world acting on Cal.com directly, and failpoint actions the toolkit lacks.

* `outside_cancel` / `outside_reschedule`: the practice's staff (or the customer, by the link in
  the confirmation e-mail) change a booking in Cal.com itself, not through the voice service.
  They go over Cal.com's real API on the fake and are recorded in the history (process
  ``outside-calcom``, no call), so the checkers know somebody asked for the new start.
* `crash_at`: the service dies at a failpoint (an exception there), the way a process dies
  between "Cal.com said yes" and "the appointment is stored".
* `deliver_webhooks_at`: at a failpoint, wait until the fake has delivered every queued webhook
  — forces "the webhook overtakes the voice flow" instead of hoping for it.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from fake_calcom.client import AsyncFakeControl
from harness.slots import Slot
from harness.world import World

API_VERSION = "2024-08-13"


async def _calcom(world: World, method: str, path: str, body: dict[str, Any],
                  api_key: str) -> tuple[int, Any]:
    headers = {"cal-api-version": API_VERSION, "Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession() as session, session.request(
            method, world.stack.fake_url + path, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def _outside(world: World, f: str, slot: str | None, value: dict[str, Any], method: str,
             path: str, body: dict[str, Any]) -> dict[str, Any]:
    pending = world.recorder.invoke("outside-calcom", f, None, slot, value)
    status, answer = world.stack.run(
        _calcom(world, method, path, body, world.berlin.calcom_api_key))
    if 200 <= status < 300:
        pending.ok(answer)
        return dict(answer["data"])
    pending.fail({"http_status": status, "body": answer})
    raise AssertionError(f"Cal.com refused {method} {path}: {status} {answer}")


def outside_cancel(world: World, uid: str, reason: str = "Abgesagt am Empfang") -> dict[str, Any]:
    """Someone cancels booking `uid` in Cal.com directly (as its host, with a reason)."""
    return _outside(world, "cancel", None, {"booking_uid": uid, "by": "host"}, "POST",
                    f"/v2/bookings/{uid}/cancel", {"cancellationReason": reason})


def outside_reschedule(world: World, uid: str, new_slot: Slot) -> dict[str, Any]:
    """Someone moves booking `uid` to `new_slot` in Cal.com directly; returns the new booking."""
    return _outside(world, "reschedule", new_slot.start, {"booking_uid": uid, "by": "host"},
                    "POST", f"/v2/bookings/{uid}/reschedule",
                    {"start": new_slot.start, "reschedulingReason": "Am Empfang verschoben"})


class InjectedCrash(RuntimeError):
    """Raised at a failpoint to simulate the service dying there."""


def crash_at(world: World, failpoint: str, times: int = 1) -> list[dict[str, Any]]:
    """Make the service fail at `failpoint` the next `times` times it gets there; returns the
    list of contexts it crashed in (filled in as it happens)."""
    crashed: list[dict[str, Any]] = []

    async def crash(context: dict[str, Any]) -> None:
        if len(crashed) < times:
            crashed.append(context)
            raise InjectedCrash(f"injected crash at {failpoint}")

    world.stack.failpoints[failpoint] = crash
    return crashed


def deliver_webhooks_at(world: World, failpoint: str) -> list[dict[str, Any]]:
    """Whenever the service reaches `failpoint`, first let the fake deliver every queued webhook
    (and wait for the service to have handled them); returns the contexts it held."""
    held: list[dict[str, Any]] = []

    async def deliver(context: dict[str, Any]) -> None:
        held.append(context)
        async with AsyncFakeControl(world.stack.fake_url) as control:
            await control.flush_webhooks()

    world.stack.failpoints[failpoint] = deliver
    return held
