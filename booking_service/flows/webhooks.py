"""Cal.com webhook receiver: verify, apply each delivery once, never move a booking backwards.

The defenses applied here (their functions are in `booking_service.defenses`):
`webhook_signature` (HMAC of the raw body), `webhook_dedupe` (the delivery's sha256 is UNIQUE in
`processed_webhooks`, inserted in the same transaction as its effect) and `webhook_ordering`
(status precedence pending < scheduled < cancelled/rescheduled, then `updatedAt`; a CANCELLED
for an unknown booking leaves a tombstone so a late CREATED cannot revive it).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from booking_service import defenses
from booking_service.calcom.models import iso_z, json_list, json_object, json_text, parse_instant
from booking_service.context import ServiceContext
from booking_service.defenses import Rejection
from booking_service.flows.appointments import appointment_by_uid, audit
from booking_service.flows.imports import ForeignBooking, insert_imported, known_call, service_for
from booking_service.json_input import UnreadableJSON, read_json
from booking_service.models import Appointment

log = logging.getLogger(__name__)

CREATE_EVENTS = ("BOOKING_CREATED", "BOOKING_REQUESTED")
HANDLED_EVENTS = (*CREATE_EVENTS, "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_RESCHEDULED")
MAX_ATTEMPTS = 3
#: A delivery naming a booking of a tenant other than its own: nothing done.
FOREIGN = "ignored_other_tenant"
#: Outcomes that are a defense saying no (counted in the rejections metric).
REFUSING_LAYER = {
    "duplicate": "webhook_dedupe",
    "ignored_out_of_order": "webhook_ordering",
    "ignored_cancelled_earlier": "webhook_ordering",
    FOREIGN: "tenant_isolation",
}


@dataclass(frozen=True)
class WebhookResult:
    http_status: int
    outcome: str

    def body(self) -> dict[str, Any]:
        return {"status": "ok" if self.http_status == 200 else "error", "outcome": self.outcome}


class UnreadableDelivery(ValueError):
    pass


def _status_from_payload(event: str, payload: dict[str, Any]) -> str:
    if event in ("BOOKING_CANCELLED", "BOOKING_REJECTED"):
        return "cancelled"
    raw = str(payload.get("status") or "").upper()
    if raw in ("CANCELLED", "REJECTED"):
        return "cancelled"
    if event == "BOOKING_REQUESTED" or raw == "PENDING":
        return "pending"
    return "scheduled"


def _column_int(value: object) -> int | None:
    """An id as the INTEGER columns hold it; anything else (a bool, 10**30) is no id."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


def read_booking(event: str, payload: dict[str, Any], sent_at: datetime | None) -> ForeignBooking:
    uid = payload.get("uid")
    start = parse_instant(payload.get("startTime"))
    end = parse_instant(payload.get("endTime"))
    if not isinstance(uid, str) or not uid or len(uid) > 64 or start is None:
        raise UnreadableDelivery("payload without uid or startTime")
    attendees = json_list(payload.get("attendees"))
    first = json_object(attendees[0]) if attendees else {}
    organizer = json_object(payload.get("organizer"))
    metadata = json_object(payload.get("metadata"))
    event_type_id = payload.get("eventTypeId")
    host_id = organizer.get("id")
    call_id = metadata.get("call_id")
    name = json_text(first.get("name")) or ""
    email = json_text(first.get("email"))
    phone = json_text(first.get("phoneNumber"))
    updated_at = parse_instant(payload.get("updatedAt")) or sent_at
    return ForeignBooking(
        uid=uid,
        status=_status_from_payload(event, payload),
        start=start,
        end=end or start,
        event_type_id=_column_int(event_type_id),
        host_id=_column_int(host_id),
        attendee_name=name[:200],
        attendee_email=email[:254] if email else None,
        attendee_phone=phone[:32] if phone else None,
        call_id=str(call_id)[:100] if call_id not in (None, "") else None,
        updated_at=updated_at,
        details={
            "uid": uid,
            "status": str(payload.get("status") or ""),
            "start": iso_z(start),
            "end": iso_z(end or start),
            "eventTypeId": event_type_id,
            "hostIds": [host_id] if _column_int(host_id) is not None else [],
            "attendees": [{"name": name, "email": email, "phoneNumber": phone}],
            "metadata": metadata,
            "via": event,
        },
    )


def _refused_signature(ctx: ServiceContext, why: str) -> WebhookResult:
    ctx.metrics.webhooks.labels(event="other", result="bad_signature").inc()
    Rejection("webhook_signature", "bad_signature").record(ctx.metrics)
    log.warning("webhook refused: %s", why)
    return WebhookResult(401, "invalid_signature")


@dataclass(frozen=True)
class Scope:
    """The tenant a delivery may touch (None: it names none, so the booking's own)."""

    company_id: int | None
    shared_secret: bool  # signed with the shared secret (not a tenant's own)


def _scope(ctx: ServiceContext, signer: defenses.Signer, booking: ForeignBooking) -> Scope | None:
    """The delivery's tenant: its event type's, which must be the signing tenant's (None: the
    signature does not fit the tenant — another tenant's secret, or the shared one where the
    tenant has its own)."""
    found = service_for(ctx, booking.event_type_id)
    event_company = found[0] if found is not None else None
    if not signer.checked:
        return Scope(event_company.id if event_company else None, shared_secret=False)
    if signer.company_id is not None:
        if event_company is not None and event_company.id != signer.company_id:
            return None
        return Scope(signer.company_id, shared_secret=False)
    if event_company is not None and event_company.webhook_secret:
        return None
    return Scope(event_company.id if event_company else None, shared_secret=True)


def _may_touch(ctx: ServiceContext, scope: Scope, company_id: int) -> bool:
    if defenses.foreign_to_delivery(ctx, company_id, scope.company_id):
        return False
    if scope.company_id is None and scope.shared_secret:
        # A delivery naming no tenant, under the shared secret: not for a tenant with its own.
        company = ctx.tenants.company(company_id)
        return company is None or not company.webhook_secret
    return True


async def handle_delivery(ctx: ServiceContext, raw: bytes, signature: str | None) -> WebhookResult:
    metrics = ctx.metrics
    signer = defenses.signature_accepted(ctx, raw, signature)
    if signer is None:
        return _refused_signature(ctx, "bad or missing X-Cal-Signature-256")
    try:
        document = read_json(raw)
    except UnreadableJSON:
        metrics.webhooks.labels(event="other", result="unreadable").inc()
        return WebhookResult(400, "unreadable_json")
    if not isinstance(document, dict) or not isinstance(document.get("triggerEvent"), str):
        metrics.webhooks.labels(event="other", result="unreadable").inc()
        return WebhookResult(400, "missing_trigger_event")
    event = document["triggerEvent"]
    event_label = metrics.webhook_event_label(event)
    payload = document.get("payload")
    delivery_key = hashlib.sha256(raw).hexdigest()
    if event not in HANDLED_EVENTS:
        outcome = await _record_only(ctx, delivery_key, event[:64], None, "ignored_event")
        metrics.webhooks.labels(event=event_label, result=outcome).inc()
        return WebhookResult(200, outcome)
    if not isinstance(payload, dict):
        metrics.webhooks.labels(event=event_label, result="unreadable").inc()
        return WebhookResult(400, "missing_payload")
    try:
        booking = read_booking(event, payload, parse_instant(document.get("createdAt")))
    except UnreadableDelivery:
        metrics.webhooks.labels(event=event_label, result="unreadable").inc()
        return WebhookResult(400, "unreadable_payload")
    scope = _scope(ctx, signer, booking)
    if scope is None:
        return _refused_signature(ctx, "signed with a secret that is not the tenant's")
    old_uid = payload.get("rescheduleUid") if event == "BOOKING_RESCHEDULED" else None
    try:
        outcome = await _apply(
            ctx, delivery_key, event, booking, old_uid if isinstance(old_uid, str) else None, scope
        )
    except sa.exc.DataError as exc:
        # A value the database will not store, however signed: the sender's error, not ours.
        log.warning("webhook refused: the database rejects a value (%s)", type(exc.orig).__name__)
        metrics.webhooks.labels(event=event_label, result="unreadable").inc()
        return WebhookResult(400, "unstorable_payload")
    metrics.webhooks.labels(event=event_label, result=outcome).inc()
    layer = REFUSING_LAYER.get(outcome)
    if layer is not None:
        Rejection(layer, outcome).record(metrics)
    return WebhookResult(200, outcome)


async def _record_only(
    ctx: ServiceContext, key: str, event: str, uid: str | None, outcome: str
) -> str:
    if not defenses.dedupes_deliveries(ctx):
        return outcome
    try:
        async with ctx.db.write() as session:
            session.add(defenses.delivery_row(ctx, key, event, uid, outcome))
    except sa.exc.IntegrityError:
        return "duplicate"
    return outcome


async def _apply(
    ctx: ServiceContext,
    key: str,
    event: str,
    booking: ForeignBooking,
    old_uid: str | None,
    scope: Scope,
) -> str:
    dedupe = defenses.dedupes_deliveries(ctx)
    for _ in range(MAX_ATTEMPTS):
        import_plan = None
        if event in CREATE_EVENTS:
            # Check the uid (and whether the booking is ours or was cancelled already) first,
            # outside the writing transaction; the failpoint sits between check and insert.
            import_plan = await _plan_import(ctx, booking)
            if import_plan == "import":
                await ctx.failpoint(
                    "webhook.before_insert", booking_uid=booking.uid, delivery_key=key
                )
        try:
            async with ctx.db.write() as session:
                processed = None
                if dedupe:
                    processed = defenses.delivery_row(ctx, key, event, booking.uid, "processing")
                    session.add(processed)
                    await session.flush()
                outcome = await _execute(
                    session, ctx, key, event, booking, old_uid, import_plan, scope
                )
                if processed is not None:
                    processed.outcome = outcome
            return outcome
        except sa.exc.IntegrityError:
            if dedupe and await defenses.delivery_seen(ctx, key):
                return "duplicate"
            # Another path imported the same booking between our check and insert (the UNIQUE
            # index said no): look again, it is an update now.
            Rejection("unique_constraint", "concurrent_import").record(ctx.metrics)
            log.info("webhook import of %s collided with another import; re-applying", booking.uid)
    return "conflict"


async def _plan_import(ctx: ServiceContext, booking: ForeignBooking) -> str:
    async with ctx.db.read() as session:
        if await appointment_by_uid(session, booking.uid) is not None:
            return "update"
        if await defenses.cancelled_earlier(ctx, session, booking.uid):
            return "tombstoned"
        if await known_call(session, booking.call_id) is not None:
            return "voice_flow"
    if service_for(ctx, booking.event_type_id) is None:
        return "unknown_event_type"
    return "import"


async def _execute(
    session: AsyncSession,
    ctx: ServiceContext,
    key: str,
    event: str,
    booking: ForeignBooking,
    old_uid: str | None,
    import_plan: str | None,
    scope: Scope,
) -> str:
    if event in CREATE_EVENTS:
        if import_plan == "tombstoned":
            return "ignored_cancelled_earlier"
        if import_plan == "voice_flow":
            return "owned_by_voice_flow"
        if import_plan == "unknown_event_type":
            return "ignored_unknown_event_type"
        if import_plan == "import":
            found = service_for(ctx, booking.event_type_id)
            assert found is not None
            company, service = found
            await insert_imported(
                session, ctx, booking, company, service, source="webhook", delivery_key=key
            )
            return "imported"
        appointment = await appointment_by_uid(session, booking.uid, for_update=True)
        if appointment is None:
            return "conflict"
        if not _may_touch(ctx, scope, appointment.company_id):
            return FOREIGN
        return _transition(
            session, ctx, appointment, booking.status, booking.updated_at, key, event
        )

    if event in ("BOOKING_CANCELLED", "BOOKING_REJECTED"):
        appointment = await appointment_by_uid(session, booking.uid, for_update=True)
        if appointment is not None and not _may_touch(ctx, scope, appointment.company_id):
            return FOREIGN
        if appointment is not None:
            return _transition(
                session, ctx, appointment, "cancelled", booking.updated_at, key, event
            )
        if await defenses.leave_tombstone(ctx, session, booking.uid, booking.updated_at, key):
            return "tombstoned"
        return "ignored_unknown_booking"

    return await _reschedule(session, ctx, key, event, booking, old_uid, scope)


async def _reschedule(
    session: AsyncSession,
    ctx: ServiceContext,
    key: str,
    event: str,
    booking: ForeignBooking,
    old_uid: str | None,
    scope: Scope,
) -> str:
    """BOOKING_RESCHEDULED: the old booking (`old_uid`) is replaced by the new one (`booking`).

    Only within the delivery's tenant: another tenant's booking named as `rescheduleUid` (or
    as the new uid, or its call as metadata.call_id) is not this delivery's to touch."""
    outcome = "ignored_unknown_booking"
    old = await appointment_by_uid(session, old_uid, for_update=True) if old_uid else None
    if old is not None and not _may_touch(ctx, scope, old.company_id):
        # Cal.com moves a booking within its event type: this delivery is not genuine.
        log.warning("webhook %s: rescheduleUid names another tenant's booking; ignored", key[:12])
        return FOREIGN
    if old is not None:
        outcome = _transition(session, ctx, old, "rescheduled", booking.updated_at, key, event)
    new = await appointment_by_uid(session, booking.uid, for_update=True)
    if new is not None and not _may_touch(ctx, scope, new.company_id):
        return FOREIGN
    if new is not None:
        _transition(session, ctx, new, booking.status, booking.updated_at, key, event)
        return outcome if old is not None else "updated"
    if await defenses.cancelled_earlier(ctx, session, booking.uid):
        # The new booking's CANCELLED overtook this delivery: importing it would revive it.
        return outcome if old is not None else "ignored_cancelled_earlier"
    call = await known_call(session, old.call_id if old is not None else booking.call_id)
    if call is not None and not _may_touch(ctx, scope, call.company_id):
        call = None
    found = service_for(ctx, booking.event_type_id)
    if old is not None and found is None:
        old_company = ctx.tenants.company(old.company_id)
        old_service = (
            next((s for s in old_company.services if s.id == old.service_id), None)
            if old_company
            else None
        )
        found = (old_company, old_service) if old_company and old_service else None
    if found is None:
        return outcome
    company, service = found
    new_appointment = await insert_imported(
        session,
        ctx,
        booking,
        company,
        service,
        source=old.source if old is not None else "webhook",
        delivery_key=key,
        call=call,
    )
    if old is not None and old.customer_id is not None:
        new_appointment.customer_id = old.customer_id
    return "rescheduled" if old is not None else "imported"


def _transition(
    session: AsyncSession,
    ctx: ServiceContext,
    appointment: Appointment,
    status: str,
    upstream_at: datetime | None,
    key: str,
    event: str,
) -> str:
    """Apply a delivered status unless `webhook_ordering` says it would move backwards.

    A delivery that finds the appointment in its status already (the CREATED confirming a
    booking the voice flow made, a move the caller made by phone, a second copy of a delivery)
    changes nothing: its audit row is `<status>_noop`, which names no effect. Each processing of
    a delivery still leaves one row per appointment it touched, so a delivery processed twice
    (`webhook_dedupe` off) shows as two rows of one delivery key on one appointment.
    """
    current = appointment.status
    if defenses.moves_backwards(ctx, appointment, status, upstream_at):
        return "ignored_out_of_order"
    if upstream_at is not None and (
        appointment.upstream_updated_at is None or upstream_at > appointment.upstream_updated_at
    ):
        appointment.upstream_updated_at = upstream_at
    if status == current:
        action = f"{status}_noop"
    else:
        appointment.status = status
        appointment.updated_at = ctx.now()
        action = {"cancelled": "cancelled", "rescheduled": "rescheduled"}.get(
            status, "status_changed"
        )
    audit(
        session,
        ctx,
        appointment.id,
        action,
        "webhook",
        delivery_key=key,
        detail={"from": current, "to": status, "event": event},
    )
    return "unchanged" if status == current else "applied"
