"""Rendezvous points: cross-process barriers on the control plane (`/_fake/rendezvous/…`).

A service under test that reaches a failpoint can be told to POST here and wait (its test
control's `call` action): whoever arrives at a rendezvous waits until `parties` have arrived, or
until `timeout_s` passes (a liveness fallback for when the defense under test keeps the others
out, e.g. a slot lock). Because the wait lives in the fake, it spans every process and replica
of the service — the harness forces "both callers passed the check" across two replicas as it
does inside one.

    POST /_fake/rendezvous/{name}  {"parties": 2, "timeout_s": 1.0, "context": {…}}
         → {"tripped": true|false, "arrived": n}
    GET  /_fake/rendezvous         → {"rendezvous": {name: {parties, arrived, tripped, timed_out}}}
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Rendezvous:
    parties: int
    arrived: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False
    all_here: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> dict[str, Any]:
        return {"parties": self.parties, "arrived": self.arrived,
                "tripped": self.all_here.is_set(), "timed_out": self.timed_out}


class RendezvousPoints:
    """Every rendezvous of one fake; `clear()` on reset releases whoever still waits."""

    def __init__(self) -> None:
        self.points: dict[str, Rendezvous] = {}

    def clear(self) -> None:
        for point in self.points.values():
            point.all_here.set()
        self.points.clear()

    async def meet(self, name: str, parties: int, timeout_s: float,
                   context: dict[str, Any]) -> Rendezvous:
        point = self.points.get(name)
        if point is None:
            point = self.points[name] = Rendezvous(parties)
        point.arrived.append(context)
        if len(point.arrived) >= point.parties:
            point.all_here.set()
        try:
            await asyncio.wait_for(point.all_here.wait(), timeout_s)
        except TimeoutError:
            point.timed_out = True
        return point


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def post_rendezvous(request: web.Request) -> web.Response:
    from fake_calcom.wire.common import STATE_KEY, parse_json

    try:
        body = parse_json(await request.read()) or {}
    except Exception:
        return _bad("rendezvous: body is not JSON")
    if not isinstance(body, dict) or set(body) - {"parties", "timeout_s", "context"}:
        return _bad("rendezvous: an object with parties, timeout_s and context")
    parties, timeout_s = body.get("parties", 2), body.get("timeout_s", 1.0)
    if isinstance(parties, bool) or not isinstance(parties, int) or parties < 1:
        return _bad("rendezvous: parties must be a positive integer")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) \
            or not 0 < timeout_s <= 600 or math.isnan(timeout_s):
        return _bad("rendezvous: timeout_s must be a number in (0, 600]")
    context = body.get("context") or {}
    if not isinstance(context, dict):
        return _bad("rendezvous: context must be an object")
    point = await request.app[STATE_KEY].rendezvous.meet(
        request.match_info["name"], parties, float(timeout_s), context)
    return web.json_response({"tripped": point.all_here.is_set(), "arrived": len(point.arrived)})


async def get_rendezvous(request: web.Request) -> web.Response:
    from fake_calcom.wire.common import STATE_KEY

    points = request.app[STATE_KEY].rendezvous.points
    return web.json_response({"rendezvous": {n: p.describe() for n, p in points.items()}})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_fake/rendezvous/{name}", post_rendezvous)
    app.router.add_get("/_fake/rendezvous", get_rendezvous)
