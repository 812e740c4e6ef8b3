"""call_links.written_fields and call_links.target_edits: field-level conflict resolution

``written_fields`` is what a push wrote, per canonical field: the digest of the source's value
it was reconciled with (``basis``) and the value the target holds (``held``), so an update
sends only what changed and a ``never_overwrite`` field keeps the target's value.
``target_edits`` is what a pull of the target found changed on callsync's copy since (an edit
made in the target), with when. Rows from before stay NULL: their next change is written whole.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("written_fields", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("target_edits", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_links", schema=None) as batch_op:
        batch_op.drop_column("target_edits")
        batch_op.drop_column("written_fields")
