"""Found by `calharness explore --profile deep --seed 303` (defenses off: none), shrunk to 3
steps. What broke when it was found:

    host-slot-exclusive: [double-booking] host 102 @ 2026-03-04T08:00:00.000Z: 2 active Cal.com
    bookings hold host 102: the outside booker's and call_0001's (told "booked").

Cal.com accepted the create inside its own race (calcom_race); the after-create look cancelled
ours, and that cancel met a 409 once: the service gave up and let the booking stand. A 409 on a
cancel is a conflicting change in flight: it looks, and tries again. (Were the undo refused
for good, the explorer would excuse the double booking as Cal.com's: `Explorer._excused`; a
booking the service has taken back is better than an excuse.)
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'arm', 'args': {'kind': 'calcom_race', 'endpoint': 'list', 'trigger': 'always'}},
 {'action': 'arm', 'args': {'kind': '409_before', 'endpoint': 'cancel', 'trigger': 'first1'}},
 {'action': 'book', 'args': {'slot': 0, 'service': 'Haarschnitt', 'name': 0}}]


@pytest.mark.defense("availability_double_check")
def test_all_on_host_slot_exclusive_undo_conflict(world: World) -> None:
    replay(world, STEPS)
