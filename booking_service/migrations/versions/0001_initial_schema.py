"""Initial schema: tenants, calls, customers, appointments (UNIQUE Cal.com uid), webhooks, audit.

Revision ID: 0001
Revises:
Create Date: 2025-10-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    """Naive UTC; microseconds on MySQL/MariaDB too."""
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False),
        sa.Column("calcom_api_key", sa.String(200), nullable=True),
        sa.Column("fallback_email", sa.String(254), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.UniqueConstraint("api_key_hash", name="uq_companies_api_key_hash"),
    )
    op.create_table(
        "branches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.UniqueConstraint("phone", name="uq_branches_phone"),
    )
    op.create_index("ix_branches_company_id", "branches", ["company_id"])
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("branch_id", sa.String(36), sa.ForeignKey("branches.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("event_type_id", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.UniqueConstraint("branch_id", "name", name="uq_services_branch_name"),
    )
    op.create_index("ix_services_company_id", "services", ["company_id"])
    op.create_index("ix_services_event_type_id", "services", ["event_type_id"])
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_index("ix_customers_company_phone", "customers", ["company_id", "phone"])
    op.create_index("ix_customers_company_email", "customers", ["company_id", "email"])
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.String(100), nullable=False),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("branch_id", sa.String(36), sa.ForeignKey("branches.id"), nullable=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.UniqueConstraint("call_id", name="uq_calls_call_id"),
    )
    op.create_index("ix_calls_company_id", "calls", ["company_id"])
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("branch_id", sa.String(36), sa.ForeignKey("branches.id"), nullable=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=True),
        sa.Column("call_id", sa.String(100), sa.ForeignKey("calls.call_id"), nullable=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("services.id"), nullable=True),
        sa.Column("event_type_id", sa.Integer(), nullable=True),
        sa.Column("host_id", sa.Integer(), nullable=True),
        sa.Column("start", _utc(), nullable=False),
        sa.Column("end", _utc(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("calcom_booking_uid", sa.String(64), nullable=True),
        sa.Column("booking_details", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("upstream_updated_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )
    # The `unique_constraint` defense: one appointment per Cal.com booking.
    op.create_index(
        "uq_appointments_calcom_booking_uid", "appointments", ["calcom_booking_uid"], unique=True
    )
    op.create_index("ix_appointments_company_start", "appointments", ["company_id", "start"])
    op.create_index("ix_appointments_call", "appointments", ["call_id"])
    op.create_table(
        "processed_webhooks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delivery_key", sa.String(64), nullable=False),
        sa.Column("trigger_event", sa.String(64), nullable=True),
        sa.Column("booking_uid", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.UniqueConstraint("delivery_key", name="uq_processed_webhooks_delivery_key"),
    )
    op.create_table(
        "booking_tombstones",
        sa.Column("booking_uid", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("upstream_updated_at", _utc(), nullable=True),
        sa.Column("delivery_key", sa.String(64), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("appointment_id", sa.Integer(), sa.ForeignKey("appointments.id"), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("delivery_key", sa.String(64), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_log_appointment_id", "audit_log", ["appointment_id"])
    op.create_index("ix_audit_log_delivery_key", "audit_log", ["delivery_key"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("booking_tombstones")
    op.drop_table("processed_webhooks")
    op.drop_table("appointments")
    op.drop_table("calls")
    op.drop_table("customers")
    op.drop_table("services")
    op.drop_table("branches")
    op.drop_table("companies")
