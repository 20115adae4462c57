"""The caller: their name, phone number and e-mail address cleaned and compared, and the
customer and call rows that record them.

The service context is only a type here: `booking_service.defenses` compares attendee names
with `same_name`, and the settings import the defenses.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from booking_service.db import retry_transient
from booking_service.flows.refusals import Refusal
from booking_service.models import Call, Customer
from booking_service.pii import mask_email
from booking_service.tenants import normalize_phone

if TYPE_CHECKING:
    from booking_service.context import ServiceContext

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_name(value: str) -> str:
    name = " ".join(value.split())
    if not any(c.isalpha() for c in name) or len(name) > 200:
        raise Refusal("error", "invalid_name")
    return name


def clean_email(value: str | None) -> str | None:
    if value is None:
        return None
    email = value.strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        log.info("ignoring an unusable e-mail address from the caller (%s)", mask_email(email))
        return None
    return email


def clean_phone(value: str | None) -> str | None:
    return normalize_phone(value) if value else None


def same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


async def ensure_customer(
    session: AsyncSession, company_id: int, name: str, phone: str | None, email: str | None
) -> Customer:
    """The company's customer with this name and phone (else e-mail); created if new.

    Two people calling from one landline are two customers: a customer is never renamed, or an
    earlier appointment would show another attendee than its Cal.com booking.
    """
    query = sa.select(Customer).where(Customer.company_id == company_id)
    if phone:
        query = query.where(Customer.phone == phone)
    elif email:
        query = query.where(Customer.email == email)
    else:
        query = query.where(Customer.phone.is_(None), Customer.email.is_(None))
    candidates = (await session.execute(query.order_by(Customer.id).limit(50))).scalars()
    customer = next((c for c in candidates if same_name(c.name, name)), None)
    if customer is None:
        customer = Customer(company_id=company_id, name=name, phone=phone, email=email)
        session.add(customer)
    else:
        if email and not customer.email:
            customer.email = email
        if phone and not customer.phone:
            customer.phone = phone
    await session.flush()
    return customer


async def record_caller(
    ctx: ServiceContext,
    call_id: str,
    company_id: int,
    branch_id: str | None,
    name: str,
    phone: str | None,
    email: str | None,
) -> int:
    """Upsert the customer and the voice call in one transaction; returns the customer id.

    A call id already used by another company is refused. Concurrent requests of one call race
    to insert its row: the loser sees the UNIQUE violation (and reads the winner's row on the
    next pass) or, on MariaDB, is chosen as a deadlock victim and runs again.
    """

    async def once() -> int | None:
        try:
            async with ctx.db.write() as session:
                customer = await ensure_customer(session, company_id, name, phone, email)
                call = (
                    await session.execute(sa.select(Call).where(Call.call_id == call_id))
                ).scalar_one_or_none()
                if call is None:
                    session.add(
                        Call(
                            call_id=call_id,
                            company_id=company_id,
                            branch_id=branch_id,
                            customer_id=customer.id,
                            created_at=ctx.now(),
                        )
                    )
                elif call.company_id != company_id:
                    raise Refusal("error", "call_id_conflict")
                else:
                    call.customer_id = customer.id
                return customer.id
        except sa.exc.IntegrityError:
            return None  # another request of the same call inserted it first

    for _ in range(2):
        customer_id = await retry_transient(once)
        if customer_id is not None:
            return customer_id
    raise Refusal("error", "call_id_conflict")
