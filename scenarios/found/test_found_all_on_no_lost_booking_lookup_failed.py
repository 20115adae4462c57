"""Found by `calharness explore --profile deep --seed 202` (defenses off: none), shrunk to 4
steps. What broke when it was found:

    no-lost-booking: [lost-booking] call call_0001: Cal.com holds booking … made for call
    call_0001, but the caller was never told and the service has no appointment (outcomes of its
    requests for that slot: fail stale_booking_data)

Cal.com's answers to the creates lost their metadata and `createdAt`, so `freshness` refused the
first caller's own booking (age unknown, no call id); the look for our own booking by its
idempotency key failed too (the booking list was malformed), and the refusal stood: "not
booked" while Cal.com held the caller's booking. An answer nothing proves foreign, whose owner
could not be looked up, is an unknown outcome now; the end-of-run reconciliation imports it.
"""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.explore.explorer import replay
from scenarios.explore.machine import NEEDS

pytestmark = [pytest.mark.area("explore"), pytest.mark.needs(*NEEDS)]

STEPS = [{'action': 'arm', 'args': {'kind': 'drop_metadata', 'endpoint': 'reschedule', 'trigger': 'always'}},
 {'action': 'arm', 'args': {'kind': 'malformed', 'endpoint': 'list', 'trigger': 'always'}},
 {'action': 'arm', 'args': {'kind': 'drop_created_at', 'endpoint': 'cancel', 'trigger': 'always'}},
 {'action': 'burst', 'args': {'slot': 1, 'service': 'Teamtermin', 'names': [1, 0, 0]}}]


def test_all_on_no_lost_booking_lookup_failed(world: World) -> None:
    replay(world, STEPS)
