"""Found by `calharness explore --examples 200 --steps 20 --seed 101` (defenses off: none),
shrunk to 4 steps. What broke when it was found (before the after-create look of
`availability_double_check`):

    host-slot-exclusive: [double-booking] host 101 @ 2026-03-04T10:00:00.000Z: 2 active Cal.com
    bookings hold host 101: the outside booker's (slot_steal, inside the create) and call_0002's
    (Cal.com overbooked), and the caller was told "booked".

Both faults act inside the create, after the double-check: only a look after the create sees it.
(The slot_steal and overbook faults are create-only: their drawn endpoint does not matter.)
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'arm', 'args': {'kind': 'slot_steal', 'endpoint': 'list', 'trigger': 'nth2'}},
 {'action': 'book', 'args': {'slot': 1, 'service': 'Haarschnitt', 'name': 1}},
 {'action': 'arm', 'args': {'kind': 'overbook', 'endpoint': 'cancel', 'trigger': 'first1'}},
 {'action': 'book', 'args': {'slot': 1, 'service': 'Teamtermin', 'name': 1}}]


@pytest.mark.defense("availability_double_check")
def test_all_on_host_slot_exclusive_overbooked(world: World) -> None:
    replay(world, STEPS)
