"""whatsapp delivery state: platform message ids, delivery ticks, message log link

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_message_id", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("sent_as", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("delivered_at", storage.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("read_at", storage.types.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_outbox_platform_message_id", ["platform_message_id"])
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outbox_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("delivery", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.create_index("ix_message_log_outbox_id", ["outbox_id"])
        batch_op.create_foreign_key("fk_message_log_outbox_id", "outbox", ["outbox_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_constraint("fk_message_log_outbox_id", type_="foreignkey")
        batch_op.drop_index("ix_message_log_outbox_id")
        batch_op.drop_column("delivery")
        batch_op.drop_column("outbox_id")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_platform_message_id")
        batch_op.drop_column("read_at")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("parts_sent")
        batch_op.drop_column("sent_as")
        batch_op.drop_column("platform_message_id")
