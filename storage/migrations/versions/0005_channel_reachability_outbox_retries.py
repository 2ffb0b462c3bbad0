"""channel reachability, outbox retries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unreachable_at", storage.types.UTCDateTime(), nullable=True))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ask_contact", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("next_attempt_at", storage.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("ask_contact")

    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.drop_column("unreachable_at")
