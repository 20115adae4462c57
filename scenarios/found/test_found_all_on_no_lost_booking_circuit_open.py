"""Found by `calharness explore --examples 200 --steps 20 --seed 202` (defenses off: none),
shrunk to 5 steps. What broke when it was found:

    no-lost-booking: [lost-booking] call call_0001: Cal.com holds its booking (the service crashed
    between Cal.com's yes and the insert), the caller was never told, no appointment.

The hung slots opened the circuit breaker; the end-of-run repair reconciliation, which imports
exactly such bookings, was refused with `circuit_open` although the faults were cleared, and the
harness judged without its repair. Now the reconciliation waits for the breaker's probe, and a
refused repair is a harness error (`RepairFailed`), never a lost booking.
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'crash', 'args': {}},
 {'action': 'book', 'args': {'slot': 0, 'service': 'Haarschnitt', 'name': 1}},
 {'action': 'arm', 'args': {'kind': 'hang_after', 'endpoint': 'slots', 'trigger': 'always'}},
 {'action': 'book', 'args': {'slot': 1, 'service': 'Haarschnitt', 'name': 0}},
 {'action': 'book', 'args': {'slot': 1, 'service': 'Haarschnitt', 'name': 0}}]


def test_all_on_no_lost_booking_circuit_open(world: World) -> None:
    replay(world, STEPS)
