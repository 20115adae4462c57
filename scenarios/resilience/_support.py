"""Helpers for the resilience scenarios: the service's circuit breaker as it reports it.

Faults on Cal.com's endpoints come from `harness.faults`; time, short Cal.com timeouts and what
the fake saw from the world (`world.freeze`, `world.calcom_timeout`, `world.requests_seen`,
`world.fired`, `world.upstream(active=False)`).
"""

from __future__ import annotations

from harness.world import World


def circuit_state(world: World) -> str:
    """The service's circuit breaker as `/healthz` reports it."""
    answer = world.run(world.driver.service.health())
    return str(answer.body["calcom_circuit"])
