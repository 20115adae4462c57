"""Tenant read API (`Authorization: Bearer <company api key>`) and `POST /api/reconcile`.

With `tenant_isolation` on (`defenses.tenant_scoped`), every query is filtered by the key's
company, so another tenant's record is a 404 exactly like a record that does not exist.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from booking_service import defenses
from booking_service.calcom.errors import CalcomError
from booking_service.calcom.models import iso_z, parse_instant
from booking_service.context import ServiceContext
from booking_service.flows.reconcile import reconcile
from booking_service.flows.slots import local_date_bounds
from booking_service.json_input import UnreadableJSON, read_json
from booking_service.models import APPOINTMENT_STATUSES, Appointment, Customer, Service
from booking_service.tenants import CompanyInfo

CONTEXT = web.AppKey("booking_service_context", ServiceContext)
_CALL_ID = re.compile(r"^[A-Za-z0-9_\-:.]{1,100}$")


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def authenticate(request: web.Request) -> CompanyInfo:
    ctx = request.app[CONTEXT]
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    company = (
        ctx.tenants.company_for_api_key(key.strip())
        if scheme.lower() == "bearer" and key.strip()
        else None
    )
    if company is None:
        raise web.HTTPUnauthorized(
            text=json.dumps(
                {"error": "unauthorized", "message": "send Authorization: Bearer <company api key>"}
            ),
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="booking-service"'},
        )
    return company


def appointment_json(
    appointment: Appointment, service_name: str | None, customer: Customer | None
) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "company_id": appointment.company_id,
        "branch_id": appointment.branch_id,
        "service": service_name,
        "event_type_id": appointment.event_type_id,
        "call_id": appointment.call_id,
        "customer": {"id": customer.id, "name": customer.name} if customer is not None else None,
        "start": iso_z(appointment.start),
        "end": iso_z(appointment.end),
        "status": appointment.status,
        "booking_uid": appointment.calcom_booking_uid,
        "host_id": appointment.host_id,
        "source": appointment.source,
        "created_at": iso_z(appointment.created_at),
        "updated_at": iso_z(appointment.updated_at),
    }


def _appointments_query() -> sa.Select[Appointment, str, Customer]:
    # Outer joins: the service name and the customer may be None in a row (typed as selected).
    return (
        sa.select(Appointment, Service.name, Customer)
        .outerjoin(Service, Service.id == Appointment.service_id)
        .outerjoin(Customer, Customer.id == Appointment.customer_id)
    )


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": f"{name} must be an integer"}),
            content_type="application/json",
        ) from exc
    if not low <= value <= high:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": f"{name} must be {low}..{high}"}),
            content_type="application/json",
        )
    return value


async def list_appointments(request: web.Request) -> web.Response:
    company = authenticate(request)
    ctx = request.app[CONTEXT]
    query = defenses.tenant_scoped(ctx, _appointments_query(), Appointment.company_id, company.id)
    status = request.query.get("status")
    if status:
        if status not in APPOINTMENT_STATUSES:
            return error(
                400, "bad_request", f"status must be one of {', '.join(APPOINTMENT_STATUSES)}"
            )
        query = query.where(Appointment.status == status)
    day = request.query.get("date")
    if day:
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            return error(400, "bad_request", "date must be YYYY-MM-DD")
        first, last = local_date_bounds(parsed, ctx.settings.timezone)
        query = query.where(Appointment.start >= first, Appointment.start < last)
    call_id = request.query.get("call_id")
    if call_id:
        if not _CALL_ID.fullmatch(call_id):
            return error(400, "bad_request", "call_id has an unexpected format")
        query = query.where(Appointment.call_id == call_id)
    limit = _int_param(request, "limit", 100, 1, 1000)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    async with ctx.db.read() as session:
        rows = (
            await session.execute(
                query.order_by(Appointment.start, Appointment.id).limit(limit).offset(offset)
            )
        ).all()
    return web.json_response({"appointments": [appointment_json(a, s, c) for a, s, c in rows]})


async def get_appointment(request: web.Request) -> web.Response:
    company = authenticate(request)
    ctx = request.app[CONTEXT]
    try:
        appointment_id = int(request.match_info["id"])
    except ValueError:
        return error(404, "not_found", "no such appointment")
    query = defenses.tenant_scoped(
        ctx,
        _appointments_query().where(Appointment.id == appointment_id),
        Appointment.company_id,
        company.id,
    )
    async with ctx.db.read() as session:
        row = (await session.execute(query)).first()
    if row is None:
        return error(404, "not_found", "no such appointment")
    return web.json_response(appointment_json(*row))


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_customers(request: web.Request) -> web.Response:
    company = authenticate(request)
    ctx = request.app[CONTEXT]
    term = request.query.get("search", "").strip()
    if len(term) > 200:
        return error(400, "bad_request", "search is too long")
    query = defenses.tenant_scoped(ctx, sa.select(Customer), Customer.company_id, company.id)
    if term:
        pattern = _like(term)
        query = query.where(
            sa.or_(
                Customer.name.ilike(pattern, escape="\\"),
                Customer.phone.like(pattern, escape="\\"),
                Customer.email.ilike(pattern, escape="\\"),
            )
        )
    limit = _int_param(request, "limit", 50, 1, 500)
    async with ctx.db.read() as session:
        customers = (
            (await session.execute(query.order_by(Customer.id).limit(limit))).scalars().all()
        )
    return web.json_response(
        {
            "customers": [
                {
                    "id": c.id,
                    "company_id": c.company_id,
                    "name": c.name,
                    "phone": c.phone,
                    "email": c.email,
                }
                for c in customers
            ]
        }
    )


async def run_reconcile(request: web.Request) -> web.Response:
    company = authenticate(request)
    ctx = request.app[CONTEXT]
    options: dict[str, Any] = {}
    raw = await request.read()
    if raw.strip():
        try:
            options = read_json(raw)
        except UnreadableJSON:
            return error(400, "bad_request", "body must be JSON")
        if not isinstance(options, dict):
            return error(400, "bad_request", "body must be a JSON object")
    repair = options.get("repair", False)
    if not isinstance(repair, bool):
        return error(400, "bad_request", "repair must be true or false")
    window = {}
    for name in ("from", "to"):
        if options.get(name) is not None:
            instant = parse_instant(options[name])
            if instant is None:
                return error(400, "bad_request", f"{name} must be an ISO-8601 timestamp")
            window[name] = instant
    if "from" in window and "to" in window and window["from"] >= window["to"]:
        return error(400, "bad_request", "from must be before to")
    try:
        report = await reconcile(
            ctx,
            company,
            repair=repair,
            window_start=window.get("from"),
            window_end=window.get("to"),
        )
    except CalcomError as exc:
        return error(502, "calcom_unavailable", f"Cal.com could not be read: {exc.kind}")
    return web.json_response(report.as_dict())
