"""The caller's transport in tests: blocking urllib over loopback (Locust's client in a run)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from loadtests.caller import Reply


class HttpExchange:
    """The caller's transport for tests: blocking urllib over loopback (Locust's client in a
    real run). Counts the requests it made."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function: str, args: dict[str, Any], to_number: str | None) -> Reply:
        self.requests.append((function, args))
        body = json.dumps({"args": args, "call": {"call_id": args.get("call_id"),
                                                  "to_number": to_number}}).encode()
        request = urllib.request.Request(f"{self.base_url}/api/retell/{function}", data=body,
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return Reply(response.status, json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read().decode("utf-8", "replace"))
        except OSError as exc:
            return Reply(None, error=str(exc))
