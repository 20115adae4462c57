"""Found by `calharness explore --examples 1000 --steps 12 --seed 0` (defenses off: none) once the
fault menu drew Cal.com's own race as one fault (`calcom_race`: slot_steal and overbook on the
same create), before the after-create look of `availability_double_check`. Shrunk to 3 steps:

    host-slot-exclusive: [double-booking] host 101 @ 2026-03-04T08:00:00.000Z: 2 active Cal.com
    bookings hold host 101: the outside booker's (taken inside the create) and call_0002's
    (Cal.com accepted it as well); call_0002 was told "booked".

With the look after the create, call_0002's booking is cancelled and the caller hears
`slot_taken` with alternatives.
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'arm', 'args': {'kind': 'calcom_race', 'endpoint': 'slots', 'trigger': 'nth2'}},
 {'action': 'book', 'args': {'slot': 0, 'service': 'Haarschnitt', 'name': 1}},
 {'action': 'book', 'args': {'slot': 0, 'service': 'Teamtermin', 'name': 0}}]


@pytest.mark.defense("availability_double_check")
def test_all_on_host_slot_exclusive_calcom_race(world: World) -> None:
    replay(world, STEPS)
