"""Found by `calharness explore` (seed 0, defenses off: unique_constraint),
shrunk to 2 steps. What broke when it was found:

    scenarios.explore.explorer.InvariantViolated: invariants violated:
    one-appointment-per-booking: 1 violation(s)
      [duplicate-appointment] booking ZiyjudT49sKWp5gJKnakNi: 2 appointments for booking ZiyjudT
        op #0 w0:outside take_slot @ 2026-03-04T10:00:00Z → ok accepted
        Cal.com booking ZiyjudT49sKWp5gJKnakNi accepted 2026-03-04T10:00:00.000Z hosts [101] mad
        appointment 1 scheduled 2026-03-04T10:00:00Z host 101 call None booking ZiyjudT49sKWp5gJ
        appointment 2 scheduled 2026-03-04T10:00:00Z host 101 call None booking ZiyjudT49sKWp5gJ
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'outside_take',
  'args': {'slot': 1, 'name': 0, 'age': 1, 'earlier_call': False, 'service': 'Teamtermin'}},
 {'action': 'import_race', 'args': {}}]


@pytest.mark.defense('unique_constraint')
def test_unique_constraint_one_appointment_per_booking(world: World) -> None:
    replay(world, STEPS)
