"""Cut Cal.com's OpenAPI document down to the paths the fake serves (plus their schemas).

    python tests/fake_calcom/data/make_openapi_subset.py /work/shared/calcom/openapi-v2.json

Source: `apps/api/v2/swagger/documentation.json` at upstream commit 5c7f1aeb (2025-04-17),
sha256 36c61a58…cbd (see API-FACTS §7). The subset keeps every operation of the listed paths
unchanged and the transitive closure of the component schemas they reference.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

PATHS = [
    "/v2/bookings",
    "/v2/bookings/{bookingUid}",
    "/v2/bookings/{bookingUid}/cancel",
    "/v2/bookings/{bookingUid}/reschedule",
    "/v2/bookings/{bookingUid}/confirm",
    "/v2/bookings/{bookingUid}/decline",
    "/v2/slots",
    "/v2/slots/reservations",
    "/v2/slots/reservations/{uid}",
    "/v2/event-types",
    "/v2/event-types/{eventTypeId}",
    "/v2/me",
    "/v2/schedules",
    "/v2/schedules/default",
    "/v2/teams/{teamId}/event-types",
    "/v2/webhooks",
    "/v2/webhooks/{webhookId}",
]


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def main(source: Path) -> None:
    raw = source.read_bytes()
    document = json.loads(raw)
    paths = {p: document["paths"][p] for p in PATHS}
    schemas = document["components"]["schemas"]
    wanted, todo = set(), refs(paths)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo |= refs(schemas[name]) - wanted
    subset = {
        "openapi": document["openapi"],
        "info": {**document["info"], "x-subset-of-sha256": hashlib.sha256(raw).hexdigest()},
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}},
    }
    target = Path(__file__).with_name("openapi-v2-subset.json")
    target.write_text(json.dumps(subset, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{target}: {len(paths)} paths, {len(wanted)} schemas")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/calcom/openapi-v2.json"))
