"""Found by `calharness explore` (seed 0, defenses off: call_id_match),
shrunk to 2 steps. What broke when it was found:

    scenarios.explore.explorer.InvariantViolated: invariants violated:
    no-stolen-booking: 1 violation(s)
      [stolen-booking] call call_0001 / booking ZiyjudT49sKWp5gJKnakNi: call call_0001 was told
        op #2 w0:call_0001 collect call_0001 @ 2026-03-04T10:00:00Z → ok booked (ZiyjudT49sKWp5g
        Cal.com booking ZiyjudT49sKWp5gJKnakNi accepted 2026-03-04T10:00:00.000Z hosts [101] mad
        appointment 1 scheduled 2026-03-04T10:00:00Z host 101 call call_0001 booking ZiyjudT49sK
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'outside_take',
  'args': {'slot': 1, 'name': 0, 'age': 0, 'service': 'Teamtermin', 'earlier_call': True}},
 {'action': 'book', 'args': {'name': 0, 'service': 'Teamtermin', 'slot': 1}}]


@pytest.mark.defense('call_id_match')
def test_call_id_match_no_stolen_booking(world: World) -> None:
    replay(world, STEPS)
