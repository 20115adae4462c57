"""Tenant isolation: no read answer contains another company's record.

Drivers record each read of the service's API as ``f: "read"`` with the invoke value
``{"endpoint": "appointments" | "appointment" | "customers", "company_id": <the reader's
company>, …}`` and the decoded response body as the completion value. A record's owner is its
``company_id`` when it shows one, else the owner the service view gives its id (appointments by
id; customers through their appointments). Judged per read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.checks.facts import Facts
from harness.checks.verdict import TENANT_LEAK, Verdict, Violation

NAME = "tenant-isolation"

_LIST_KEYS = ("appointments", "customers", "items", "data", "results")


def _records(body: Any) -> Iterator[dict[str, Any]]:
    """The records of a read answer: a list, an object wrapping a list, or one object."""
    if isinstance(body, list):
        for item in body:
            if isinstance(item, dict):
                yield item
        return
    if not isinstance(body, dict):
        return
    for key in _LIST_KEYS:
        inner = body.get(key)
        if isinstance(inner, list | dict):
            yield from _records(inner)
            return
    if "id" in body:
        yield body


def check(facts: Facts) -> Verdict:
    if facts.history is None:
        return Verdict.skip(NAME, "no history")
    appointment_owner = {str(a.id): a.company_id for a in facts.appointments}
    customer_owner = {str(a.customer_id): a.company_id for a in facts.appointments
                      if a.customer_id is not None}
    violations = []
    checked = 0
    for op in facts.ops_of("read"):
        if op.type != "ok" or not isinstance(op.request, dict):
            continue
        reader = op.request.get("company_id")
        if reader is None:
            continue
        checked += 1
        endpoint = str(op.request.get("endpoint") or "appointments")
        owners = customer_owner if endpoint.startswith("customer") else appointment_owner
        leaked = []
        for record in _records(op.answer):
            owner = record.get("company_id")
            if owner is None:
                owner = owners.get(str(record.get("id")))
            if owner is not None and str(owner) != str(reader):
                leaked.append({"id": record.get("id"), "company_id": owner})
        if leaked:
            violations.append(Violation(
                kind=TENANT_LEAK, key=f"read {op.index} ({endpoint})",
                message=(f"company {reader} read {endpoint} and got {len(leaked)} record(s) of "
                         f"another company: " + ", ".join(
                             f"{r['id']} (company {r['company_id']})" for r in leaked[:10])),
                operations=[op],
                details={"reader_company_id": reader, "endpoint": endpoint, "leaked": leaked},
            ))
    return Verdict.of(NAME, violations, checked=checked)
