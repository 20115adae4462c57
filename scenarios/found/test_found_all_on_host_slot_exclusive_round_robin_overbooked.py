"""Found by `calharness explore --profile deep --seed 303` (defenses off: none), shrunk to 4
steps, once the after-create look of `availability_double_check` yielded to bookings made
elsewhere only. What broke when it was found:

    host-slot-exclusive: [double-booking] host 102 @ 2026-03-04T08:00:00.000Z: 2 active Cal.com
    bookings hold host 102: call_0001's (Haarschnitt, booked a step earlier) and call_0002's
    (Teamtermin, told "booked").

Inside the burst's first create an outside booker took host 101, the only free one of the
round robin, and Cal.com accepted the create anyway — on host 102, which our earlier caller
holds. The look after the create now also steps back for one of our own bookings made before
this request began (bookings of ours made meanwhile are the slot lock's to keep apart).
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'outside_take', 'args': {'slot': 1, 'service': 'Teamtermin', 'name': 1, 'age': 0, 'earlier_call': True}},
 {'action': 'book', 'args': {'slot': 0, 'service': 'Haarschnitt', 'name': 0}},
 {'action': 'arm', 'args': {'kind': 'calcom_race', 'endpoint': 'slots', 'trigger': 'first1'}},
 {'action': 'burst', 'args': {'slot': 0, 'service': 'Teamtermin', 'names': [0, 0]}}]


@pytest.mark.defense("availability_double_check")
def test_all_on_host_slot_exclusive_round_robin_overbooked(world: World) -> None:
    replay(world, STEPS)
