"""processed_webhooks.received_at → processed_at (the name docs/contracts.md §3 uses).

Revision ID: 0002
Revises: 0001
Create Date: 2025-10-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("processed_webhooks") as batch:
        batch.alter_column(
            "received_at",
            new_column_name="processed_at",
            existing_type=_utc(),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("processed_webhooks") as batch:
        batch.alter_column(
            "processed_at",
            new_column_name="received_at",
            existing_type=_utc(),
            existing_nullable=False,
        )
