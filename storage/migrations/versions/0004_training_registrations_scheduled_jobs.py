"""training registrations, scheduled jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("run_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("scheduled_job", schema=None) as batch_op:
        batch_op.create_index("ix_scheduled_job_status_run_at", ["status", "run_at"], unique=False)

    op.create_table(
        "training_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("nik_hash", sa.String(length=64), nullable=False),
        sa.Column("nik_encrypted", sa.Text(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Boolean(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("offered_until", storage.types.UTCDateTime(), nullable=True),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channel_identity.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["training_session.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("session_id", "nik_hash", name="uq_training_registration"),
    )
    with op.batch_alter_table("training_registration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_registration_resident_id"), ["resident_id"], unique=False
        )
        batch_op.create_index(
            "ix_training_registration_session_status", ["session_id", "status"], unique=False
        )

    with op.batch_alter_table("training", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("questions", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("training", schema=None) as batch_op:
        batch_op.drop_column("questions")

    with op.batch_alter_table("training_registration", schema=None) as batch_op:
        batch_op.drop_index("ix_training_registration_session_status")
        batch_op.drop_index(batch_op.f("ix_training_registration_resident_id"))

    op.drop_table("training_registration")
    with op.batch_alter_table("scheduled_job", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_job_status_run_at")

    op.drop_table("scheduled_job")
