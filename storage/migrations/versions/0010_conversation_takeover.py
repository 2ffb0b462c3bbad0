"""conversation takeover by an officer

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("taken_over_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("taken_over_at", storage.types.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(
            "fk_conversation_taken_over_by", "officer", ["taken_over_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_constraint("fk_conversation_taken_over_by", type_="foreignkey")
        batch_op.drop_column("taken_over_at")
        batch_op.drop_column("taken_over_by")
