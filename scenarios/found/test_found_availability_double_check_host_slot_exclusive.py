"""Found by `calharness explore` (seed 0, defenses off: availability_double_check),
shrunk to 4 steps. What broke when it was found:

    scenarios.explore.explorer.InvariantViolated: invariants violated:
    host-slot-exclusive: 1 violation(s)
      [double-booking] host 102 @ 2026-03-04T10:00:00.000Z: 2 active Cal.com bookings hold host
        op #4 w0:outside take_slot call_0687 @ 2026-03-04T10:00:00Z → ok accepted
        op #6 w0:call_0002 collect call_0002 @ 2026-03-04T10:00:00Z → ok booked (acAgnCnDSjrkzHM
        Cal.com booking J4PHTbWcFjMrHC8dEAvQrq accepted 2026-03-04T10:00:00.000Z hosts [102] mad
        Cal.com booking acAgnCnDSjrkzHMh4JDcbT accepted 2026-03-04T10:00:00.000Z hosts [102] mad
        appointment 2 scheduled 2026-03-04T10:00:00Z host 102 call call_0002 booking acAgnCnDSjr
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'book', 'args': {'service': 'Teamtermin', 'name': 1, 'slot': 0}},
 {'action': 'arm', 'args': {'endpoint': 'create', 'trigger': 'always', 'kind': 'overbook'}},
 {'action': 'outside_take',
  'args': {'name': 0, 'service': 'Teamtermin', 'age': 1, 'earlier_call': True, 'slot': 1}},
 {'action': 'book', 'args': {'slot': 1, 'service': 'Haarschnitt', 'name': 0}}]


@pytest.mark.defense('availability_double_check')
def test_availability_double_check_host_slot_exclusive(world: World) -> None:
    replay(world, STEPS)
