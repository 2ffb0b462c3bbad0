"""broadcasts subscriptions distribution answers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("villages", sa.JSON(), nullable=False),
        sa.Column("programmes", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("send_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["officer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["distribution_schedule.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcast_status"), ["status"], unique=False)

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("village_code", sa.String(length=13), nullable=False),
        sa.Column("programme", sa.String(length=8), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channel_identity.id"],
        ),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["village.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identity_id", "village_code", "programme", name="uq_subscription"),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_identity_id"), ["identity_id"], unique=False
        )
        batch_op.create_index(
            "ix_subscription_village_programme", ["village_code", "programme"], unique=False
        )

    op.create_table(
        "distribution_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channel_identity.id"],
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["distribution_schedule.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "identity_id", name="uq_distribution_answer"),
    )
    with op.batch_alter_table("distribution_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_distribution_answer_schedule_id"), ["schedule_id"], unique=False
        )

    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("broadcasts_stopped_at", storage.types.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_outbox_claim", ["channel", "status", "broadcast_id", "id"], unique=False
        )
        batch_op.create_unique_constraint(
            "uq_outbox_broadcast_recipient", ["broadcast_id", "identity_id"]
        )
        batch_op.create_foreign_key("fk_outbox_broadcast_id", "broadcast", ["broadcast_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_broadcast_id", type_="foreignkey")
        batch_op.drop_constraint("uq_outbox_broadcast_recipient", type_="unique")
        batch_op.drop_index("ix_outbox_claim")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("broadcast_id")

    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.drop_column("broadcasts_stopped_at")

    with op.batch_alter_table("distribution_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_answer_schedule_id"))

    op.drop_table("distribution_answer")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_village_programme")
        batch_op.drop_index(batch_op.f("ix_subscription_identity_id"))

    op.drop_table("subscription")
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_status"))

    op.drop_table("broadcast")
