"""Seeded booking ids and uids: the same seed and the same requests give the same answers."""

from __future__ import annotations

import random
import uuid

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
UID_LENGTH = 22
# byte -> base58 character, so a uid is one C-level translate of random bytes.
_BYTE_TO_BASE58 = bytes(ord(BASE58[b % 58]) for b in range(256))


class IdGenerator:
    """Auto-increment integer ids (starting at a seed-dependent point) and base58 uids."""

    def __init__(self, seed: int = 0) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self._rng = random.Random(f"fake-calcom-ids:{seed}")
        self._next_booking_id = 11_000_000 + self._rng.randrange(1_000_000)
        self._next_webhook_id = 1
        self._next_attendee_id = 500_000 + self._rng.randrange(100_000)
        # Its own stream, so reserving slots never changes the booking uids a seed gives.
        self._reservation_rng = random.Random(f"fake-calcom-reservations:{seed}")

    def booking_id(self) -> int:
        value = self._next_booking_id
        self._next_booking_id += 1
        return value

    def attendee_id(self) -> int:
        value = self._next_attendee_id
        self._next_attendee_id += 1
        return value

    def webhook_id(self) -> int:
        value = self._next_webhook_id
        self._next_webhook_id += 1
        return value

    def uid(self) -> str:
        # Cal.com's uid is a uuid rendered by short-uuid: 22 base58 characters. Drawing the
        # characters directly looks the same and is far cheaper than the division loop.
        return self._rng.randbytes(UID_LENGTH).translate(_BYTE_TO_BASE58).decode()

    def reservation_uid(self) -> str:
        """Cal.com's reservation uid is a v4 uuid (`uuid()` in the slots repository)."""
        return str(uuid.UUID(bytes=self._reservation_rng.randbytes(16), version=4))
