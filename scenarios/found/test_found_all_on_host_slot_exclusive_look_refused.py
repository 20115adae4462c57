"""Found by `calharness explore --profile deep --seed 303` (defenses off: none), shrunk to 3
steps. What broke when it was found:

    host-slot-exclusive: [double-booking] host 102 @ 2026-03-04T08:00:00.000Z: 2 active Cal.com
    bookings hold host 102: the outside booker's and call_0001's (told "booked").

Cal.com accepted the create inside its own race (calcom_race), and every booking list was
refused (409): the after-create look could not see the other booking, so ours stood. No
service can do more; the explorer's model excuses it as Cal.com's (`Explorer._excused`: an
overbooked create, then an armed fault on the list or on that booking's cancel).
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'arm', 'args': {'kind': '409_before', 'endpoint': 'list', 'trigger': 'always'}},
 {'action': 'arm', 'args': {'kind': 'calcom_race', 'endpoint': 'list', 'trigger': 'always'}},
 {'action': 'book', 'args': {'slot': 0, 'service': 'Haarschnitt', 'name': 0}}]


def test_all_on_host_slot_exclusive_look_refused(world: World) -> None:
    replay(world, STEPS)
