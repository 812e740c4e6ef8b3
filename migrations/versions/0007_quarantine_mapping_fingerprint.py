"""quarantine.mapping_fingerprint: the mapping inputs a quarantined record was last mapped with

A pull retries the quarantined records of its connection whose fingerprint differs from the
current one (``syncer/quarantine.py``), once per change. Rows from before stay NULL, which
differs from every fingerprint: they are retried once by the next pull.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mapping_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("mapping_fingerprint")
