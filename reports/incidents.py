"""The incident catalogue: what the suite must cover, from the reviews and plans in ``seeds/``.

Each source document is summarised in the repository under ``docs/incidents/`` (``REVIEWS``):
the report links those summaries, so a reader never needs the originals.

Scenarios name incidents with ``@pytest.mark.rca("<id>")``; the report's RCA coverage lists every
incident here with its scenarios, so an incident nobody covers shows as *uncovered* (and a marker
with an id missing here shows as unknown, not as coverage).
"""

from __future__ import annotations

from dataclasses import dataclass

SEED_000 = "000_7195113ce8c30a21.txt"  # testing strategy: 4-layer duplicate prevention, TC-001…012
SEED_001 = "001_c352d20aec538b69.txt"  # test automation plan: the five RCA issues
SEED_002 = "002_9f49df844de6da5d.txt"  # next-phase roadmap (webhooks, monitoring)
SEED_003 = "003_ea73c4c16f022e01.txt"  # final report: the deployed layers and their unit tests
SEED_004 = "004_5a09d7c2ae98aaed.txt"  # fix strategy: Call 687/688 evidence

#: seed → its summary in the repository (a path from the repository root).
REVIEWS: dict[str, str] = {
    SEED_000: "docs/incidents/testing-strategy-tc-matrix.md",
    SEED_001: "docs/incidents/test-automation-plan-rca-issues.md",
    SEED_002: "docs/incidents/next-phase-roadmap.md",
    SEED_003: "docs/incidents/2025-10-06-four-layer-fix-report.md",
    SEED_004: "docs/incidents/2025-10-06-call-687-688-stale-booking.md",
}


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    title: str
    seeds: tuple[str, ...]
    where: str                          # the section of the seed it comes from
    violations: tuple[str, ...] = ()    # violation kinds (harness.checks) that show it

    @property
    def review(self) -> list[str]:
        """The summaries of its sources in docs/incidents/ (paths from the repository root)."""
        return [REVIEWS[seed] for seed in self.seeds if seed in REVIEWS]


CATALOGUE: tuple[Incident, ...] = (
    Incident("duplicate-stale-booking",
             "Call 688 was handed Call 687's booking: Cal.com answered a new create with a "
             "35-minute-old booking carrying the other caller's metadata and name",
             (SEED_004, SEED_003), "RCA 2025-10-06, 'Root Cause' and 'Evidence'",
             ("stolen-booking",)),
    Incident("stale-booking-freshness",
             "Freshness boundaries of a returned booking: 5 s and exactly 30 s accepted, 35 s and "
             "2 min rejected, missing createdAt accepted",
             (SEED_003,), "Layer 1: Booking Freshness Validation", ("stolen-booking",)),
    Incident("call-id-mismatch",
             "A returned booking whose metadata.call_id names another call is rejected (missing "
             "call_id passes)",
             (SEED_003,), "Layer 2: Metadata call_id Validation", ("stolen-booking",)),
    Incident("duplicate-booking-uid",
             "One Cal.com booking uid never becomes two appointments (lookup before insert, "
             "UNIQUE constraint)",
             (SEED_003, SEED_004), "Layers 3 and 4: database duplicate check, UNIQUE constraint",
             ("duplicate-appointment", "stolen-booking")),
    Incident("availability-race-14s",
             "14 seconds between the availability check and the booking let someone else take "
             "the slot; the caller must be told slot_taken with alternatives, never double-booked",
             (SEED_001,), "RCA 2025-10-14, §2.1 and §2.2 race condition tests",
             ("double-booking",)),
    Incident("branch-id-uuid",
             "Branch ids are UUID strings, not integers (the alternative finder's TypeError)",
             (SEED_001,), "RCA 2025-10-06 (booking error analysis), §1.1 type safety"),
    Incident("webhook-duplicate",
             "A webhook delivered more than once is applied once",
             (SEED_001,), "Webhook idempotency, §1.3", ("webhook-applied-twice",)),
    Incident("webhook-out-of-order",
             "Webhooks arriving out of order never move a booking backwards (a late CREATED "
             "does not revive a CANCELLED booking)",
             (SEED_001, SEED_002), "§5.2 bi-directional sync; roadmap §4.1 webhook integration",
             ("drift",)),
    Incident("local-calcom-drift",
             "The local database drifts from Cal.com (orphans, missing bookings, Hans Schuster "
             "shown as Hansi Sputer) and reconciliation finds and repairs it",
             (SEED_001,), "§5.1 reconciliation tests", ("drift", "lost-booking")),
    Incident("tc-001", "Same idempotency key, same customer: the existing booking comes back",
             (SEED_000,), "Test Case Matrix, Layer 1"),
    Incident("tc-002", "Same idempotency key, different customer: the key is global",
             (SEED_000,), "Test Case Matrix, Layer 1"),
    Incident("tc-003", "Different key, same customer, same slot: refused as a duplicate",
             (SEED_000,), "Test Case Matrix, Layer 2", ("duplicate-booking",)),
    Incident("tc-004", "Different key, different customer, same slot: only one gets the slot",
             (SEED_000,), "Test Case Matrix, Layer 2", ("double-booking",)),
    Incident("tc-005", "Cal.com says the slot is unavailable: slot_taken, nothing booked",
             (SEED_000,), "Test Case Matrix, Layer 3", ("phantom-booking",)),
    Incident("tc-006", "Cal.com rate-limits: back off and retry, no duplicate",
             (SEED_000,), "Test Case Matrix, Layer 3", ("duplicate-booking",)),
    Incident("tc-007", "Returned booking much older than the request: rejected as stale",
             (SEED_000,), "Test Case Matrix, Layer 4", ("stolen-booking",)),
    Incident("tc-008", "Returned booking's metadata does not match the request: rejected",
             (SEED_000,), "Test Case Matrix, Layer 4", ("stolen-booking",)),
    Incident("tc-009", "Concurrent requests for one slot: exactly one succeeds",
             (SEED_000,), "Test Case Matrix, Race", ("double-booking",)),
    Incident("tc-010", "A network retry with the same key creates no duplicate",
             (SEED_000,), "Test Case Matrix, Race", ("duplicate-booking", "lost-booking")),
    Incident("tc-011", "All layers pass: the booking is created",
             (SEED_000,), "Test Case Matrix, Integration", ("lost-booking",)),
    Incident("tc-012", "An early layer refuses: later layers and Cal.com are not called",
             (SEED_000,), "Test Case Matrix, Integration", ("phantom-booking",)),
)

BY_ID: dict[str, Incident] = {i.id: i for i in CATALOGUE}


def incident(incident_id: str) -> Incident | None:
    return BY_ID.get(incident_id)


def incidents_for_violation(kind: str) -> list[Incident]:
    """The incidents a violation kind is evidence of (for the report's checker section)."""
    return [i for i in CATALOGUE if kind in i.violations]
