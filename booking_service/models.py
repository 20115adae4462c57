"""SQLAlchemy 2 models (docs/contracts.md §2.4). The Alembic migrations create exactly these.

Times are stored as naive UTC (`UTCDateTime` converts at the boundary), so SQLite, MariaDB and
PostgreSQL compare them the same way. Branch ids are UUID strings, never ints (the type-mismatch
incident).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Name of the UNIQUE index that is the `unique_constraint` defense.
UNIQUE_BOOKING_UID_INDEX = "uq_appointments_calcom_booking_uid"
#: The plain index that replaces it while `unique_constraint` is switched off.
PLAIN_BOOKING_UID_INDEX = "ix_appointments_calcom_booking_uid"

ACTIVE_STATUSES = ("scheduled", "pending")
APPOINTMENT_STATUSES = ("scheduled", "pending", "cancelled", "rescheduled")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (microseconds kept on MySQL)."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: sa.JSON}


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    api_key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    calcom_api_key: Mapped[str | None] = mapped_column(sa.String(200))
    fallback_email: Mapped[str | None] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Branch(Base):
    __tablename__ = "branches"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # UUID string
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(32), unique=True)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (sa.UniqueConstraint("branch_id", "name", name="uq_services_branch_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("companies.id"), index=True)
    branch_id: Mapped[str] = mapped_column(sa.ForeignKey("branches.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    event_type_id: Mapped[int] = mapped_column(sa.Integer, index=True)
    duration: Mapped[int] = mapped_column(sa.Integer)  # minutes


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        sa.Index("ix_customers_company_phone", "company_id", "phone"),
        sa.Index("ix_customers_company_email", "company_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(sa.String(100), unique=True)  # the voice platform's id
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("companies.id"), index=True)
    branch_id: Mapped[str | None] = mapped_column(sa.ForeignKey("branches.id"))
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        sa.Index(UNIQUE_BOOKING_UID_INDEX, "calcom_booking_uid", unique=True),
        sa.Index("ix_appointments_company_start", "company_id", "start"),
        sa.Index("ix_appointments_call", "call_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(sa.ForeignKey("companies.id"))
    branch_id: Mapped[str | None] = mapped_column(sa.ForeignKey("branches.id"))
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"))
    call_id: Mapped[str | None] = mapped_column(sa.ForeignKey("calls.call_id"))
    service_id: Mapped[int | None] = mapped_column(sa.ForeignKey("services.id"))
    event_type_id: Mapped[int | None] = mapped_column(sa.Integer)
    host_id: Mapped[int | None] = mapped_column(sa.Integer)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16))
    calcom_booking_uid: Mapped[str | None] = mapped_column(sa.String(64))
    booking_details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.String(16))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(64))
    upstream_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProcessedWebhook(Base):
    __tablename__ = "processed_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_key: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 of the raw body
    trigger_event: Mapped[str | None] = mapped_column(sa.String(64))
    booking_uid: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(32))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BookingTombstone(Base):
    """A CANCELLED delivery for a booking not (yet) known here: a later CREATED must not revive it."""

    __tablename__ = "booking_tombstones"

    booking_uid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    upstream_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_key: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appointments.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.String(16))
    delivery_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
