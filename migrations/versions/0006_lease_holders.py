"""lease holders: the host, PID and process start time of whoever holds a lease

A lease whose holder died on this host is taken over at once instead of blocking its streams
until it expires. Rows from before stay NULL and are freed by expiry alone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:12:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pid_started", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_column("pid_started")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
