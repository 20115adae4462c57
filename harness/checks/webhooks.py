"""Each webhook delivery takes effect at most once, and only if Cal.com signed it.

The service's audit log names the delivery (``delivery_key`` = sha256 of the raw body, the same
digest as the fake's ``body_sha256``) behind every change a webhook made. A delivery whose action
appears twice, one processed twice on the same appointment (an effect and then a no-op — the
service audits a transition that changes nothing as ``<status>_noop``), or a key recorded twice
in ``processed_webhooks``, was applied twice (Cal.com may send one body several times). An effect whose body the fake never sent with a valid signature —
nor the harness itself, see below — is a forgery that took effect.

Webhooks the harness posts itself (history ``f: "webhook"``) count as signed when their invoke
value says ``{"body_sha256": …, "signature_valid": true}``. Judged per delivery key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from harness.checks.facts import Facts
from harness.checks.inputs import Appointment, AuditEntry, WebhookDelivery
from harness.checks.verdict import (
    WEBHOOK_APPLIED_TWICE,
    WEBHOOK_FORGERY_APPLIED,
    Verdict,
    Violation,
)
from harness.history import Operation

NAME = "webhook-applied-once"


def _posted_by_harness(ops: Iterable[Operation]) -> dict[str, list[Operation]]:
    """body digest → the harness's own webhook posts with that body."""
    posted: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        if isinstance(op.request, dict):
            digest = op.request.get("body_sha256")
            if isinstance(digest, str):
                posted[digest].append(op)
    return posted


def _signed(ops: list[Operation]) -> bool:
    return any(op.request.get("signature_valid") is True for op in ops)


def _distinct(appointments: Iterable[Appointment]) -> list[Appointment]:
    return list({a.id: a for a in appointments}.values())


def check(facts: Facts) -> Verdict:
    service = facts.service
    if service is None or service.audit_log is None:
        return Verdict.skip(NAME, "no audit log from the service's database")
    effects: dict[str, list[AuditEntry]] = defaultdict(list)
    for row in service.audit_log:
        if row.delivery_key and row.is_effect:  # a delivery key marks a webhook's doing
            effects[row.delivery_key].append(row)
    deliveries: dict[str, list[WebhookDelivery]] = defaultdict(list)
    sent = facts.truth.webhook_deliveries if facts.truth is not None else None
    known = sent is not None
    if sent is not None:
        for d in sent:
            if d.body_sha256 in effects:  # only deliveries that took effect are judged
                deliveries[d.body_sha256].append(d)
    posted = _posted_by_harness(facts.ops_of("webhook"))

    violations = []
    reported: set[str] = set()
    for key, rows in effects.items():
        sent = deliveries.get(key, [])
        ops = posted.get(key, [])
        if len(rows) == 1 and (not known or any(d.signature_valid for d in sent)
                               or _signed(ops)):
            continue  # the common case: applied once, and signed
        involved = _distinct(facts.appointments_by_id[r.appointment_id] for r in rows
                             if r.appointment_id in facts.appointments_by_id)
        by_action: dict[str, list[AuditEntry]] = defaultdict(list)
        for row in rows:
            by_action[row.action].append(row)
        twice = {action: len(rs) for action, rs in by_action.items() if len(rs) > 1}
        if twice:
            reported.add(key)
            violations.append(Violation(
                kind=WEBHOOK_APPLIED_TWICE, key=f"delivery {key[:16]}",
                message=(f"delivery {key[:16]}… ({len(sent)} cop{'y' if len(sent) == 1 else 'ies'} "
                         f"sent) took effect more than once: "
                         + ", ".join(f"{a} ×{n}" for a, n in twice.items())),
                appointments=involved, operations=ops,
                details={"delivery_key": key, "audit": [r.to_json() for r in rows],
                         "deliveries": [d.to_json() for d in sent]},
            ))
        if known and not (any(d.signature_valid for d in sent) or _signed(ops)):
            violations.append(Violation(
                kind=WEBHOOK_FORGERY_APPLIED, key=f"delivery {key[:16]}",
                message=(f"delivery {key[:16]}… took effect ({', '.join(r.action for r in rows)}) "
                         f"but Cal.com never sent it with a valid signature"),
                appointments=involved, operations=ops,
                details={"delivery_key": key, "audit": [r.to_json() for r in rows],
                         "deliveries": [d.to_json() for d in sent]},
            ))

    # Processed twice: one delivery audited twice on one appointment, as an effect or a no-op
    # (a duplicate that changed nothing the second time was still not deduplicated).
    per_appointment: dict[tuple[str, object], list[AuditEntry]] = defaultdict(list)
    for row in service.audit_log:
        if row.delivery_key and (row.is_effect or row.action.endswith("_noop")):
            per_appointment[(row.delivery_key, row.appointment_id)].append(row)
    for (key, appointment_id), rows in per_appointment.items():
        if len(rows) > 1 and key not in reported:
            reported.add(key)
            violations.append(Violation(
                kind=WEBHOOK_APPLIED_TWICE, key=f"delivery {key[:16]}",
                message=(f"delivery {key[:16]}… was processed {len(rows)} times on appointment "
                         f"{appointment_id}: " + ", ".join(r.action for r in rows)),
                appointments=_distinct(facts.appointments_by_id[a] for a in (appointment_id,)
                                       if a in facts.appointments_by_id),
                details={"delivery_key": key, "audit": [r.to_json() for r in rows]},
            ))

    processed: dict[str, int] = defaultdict(int)
    for p in service.processed_webhooks or ():
        processed[p.delivery_key] += 1
    for key, n in processed.items():
        if n > 1 and key not in reported:
            violations.append(Violation(
                kind=WEBHOOK_APPLIED_TWICE, key=f"delivery {key[:16]}",
                message=f"delivery {key[:16]}… was processed {n} times",
                details={"delivery_key": key, "processed": n,
                         "deliveries": [d.to_json() for d in deliveries.get(key, [])]},
            ))
    return Verdict.of(NAME, violations, checked=len(effects.keys() | processed.keys()))
