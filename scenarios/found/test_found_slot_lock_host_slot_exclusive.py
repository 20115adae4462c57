"""Found by `calharness explore` (seed 0, defenses off: slot_lock),
shrunk to 2 steps. What broke when it was found:

    scenarios.explore.explorer.InvariantViolated: invariants violated:
    host-slot-exclusive: 1 violation(s)
      [double-booking] host 102 @ 2026-03-04T10:00:00.000Z: 2 active Cal.com bookings hold host
        op #2 w0:call_0001 collect call_0001 @ 2026-03-04T10:00:00Z → ok booked (ZiyjudT49sKWp5g
        op #3 w0:call_0002 collect call_0002 @ 2026-03-04T10:00:00Z → ok booked (J4PHTbWcFjMrHC8
        Cal.com booking ZiyjudT49sKWp5gJKnakNi accepted 2026-03-04T10:00:00.000Z hosts [102] mad
        Cal.com booking J4PHTbWcFjMrHC8dEAvQrq accepted 2026-03-04T10:00:00.000Z hosts [102] mad
        appointment 1 scheduled 2026-03-04T10:00:00Z host 102 call call_0001 booking ZiyjudT49sK
        appointment 2 scheduled 2026-03-04T10:00:00Z host 102 call call_0002 booking J4PHTbWcFjM
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'arm', 'args': {'kind': 'overbook', 'endpoint': 'create', 'trigger': 'always'}},
 {'action': 'burst', 'args': {'service': 'Haarschnitt', 'slot': 1, 'names': [0, 0]}}]


@pytest.mark.defense('slot_lock')
def test_slot_lock_host_slot_exclusive(world: World) -> None:
    replay(world, STEPS)
