"""call_overrides: edits made in a target, accepted as changes of the canonical call

One row per (call, field): the value a rep gave the field on callsync's copy in a target,
when, in which target, the digest of the source's value it overrides, and whether a later
source change wins it back (``syncer/conflicts.py``). Applied whenever the call is stored.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_overrides",
        sa.Column("call_uid", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("target_connection", sa.String(length=64), nullable=False),
        sa.Column("basis", sa.String(length=64), nullable=False),
        sa.Column("yields", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_uid"],
            ["calls.call_uid"],
            name=op.f("fk_call_overrides_call_uid_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("call_uid", "field", name=op.f("pk_call_overrides")),
    )


def downgrade() -> None:
    op.drop_table("call_overrides")
