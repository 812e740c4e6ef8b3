"""source_records.incomplete: calls stored without a label a failed look-up should have given

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_records") as batch:
        batch.add_column(sa.Column("incomplete", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_records") as batch:
        batch.drop_column("incomplete")
