"""The request journal (a bounded ring buffer, off in load mode) and the request stats."""

from __future__ import annotations

import json
from collections import Counter, deque
from typing import Any

BODY_LIMIT = 64 * 1024  # per body: 2000 entries of 1 MiB bodies would be 2 GB


def _readable(raw: bytes | None) -> Any:
    """A body as JSON when it is JSON, else as text (or None when empty)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


class Journal:
    def __init__(self, *, enabled: bool = True, capacity: int = 2000) -> None:
        self.enabled = enabled
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(1, capacity))
        self._seq = 0

    @property
    def capacity(self) -> int:
        return self._entries.maxlen or 0

    def configure(self, *, enabled: bool | None = None, capacity: int | None = None) -> None:
        if enabled is not None:
            self.enabled = enabled
        if capacity is not None:
            if capacity < 1:
                raise ValueError("capacity must be >= 1")
            self._entries = deque(self._entries, maxlen=capacity)

    def record(
        self,
        *,
        at: str,
        method: str,
        path: str,
        api_version: str | None,
        status: int,
        latency_ms: float,
        faults: list[str],
        request_body: bytes | None,
        response_body: bytes | None,
    ) -> None:
        self._seq += 1
        # Bodies are kept raw and decoded when read, so recording stays cheap.
        self._entries.append(
            {
                "seq": self._seq,
                "at": at,
                "method": method,
                "path": path,
                "api_version": api_version,
                "status": status,
                "latency_ms": round(latency_ms, 3),
                "faults": faults,
                "request_body": request_body[:BODY_LIMIT] if request_body else request_body,
                # An exact-size copy: orjson's answer bytes carry kilobytes of spare capacity.
                "response_body": bytes(memoryview(response_body)[:BODY_LIMIT]) if response_body else response_body,
            }
        )

    def read(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        entries = [e for e in self._entries if e["seq"] > since]
        if limit is not None:
            entries = entries[:limit]
        return [
            {**e, "request_body": _readable(e["request_body"]), "response_body": _readable(e["response_body"])}
            for e in entries
        ]

    def clear(self) -> None:
        self._entries.clear()
        self._seq = 0

    def settings(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "capacity": self.capacity}


class Stats:
    def __init__(self) -> None:
        self._requests: Counter[tuple[str, str, int]] = Counter()

    def count(self, method: str, route: str, status: int) -> None:
        self._requests[(method, route, status)] += 1  # formatted when read, not per request

    @property
    def requests(self) -> dict[str, int]:
        return {f"{m} {r} {s}": n for (m, r, s), n in self._requests.items()}

    def clear(self) -> None:
        self._requests.clear()
