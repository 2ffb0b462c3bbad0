"""registry import, audit log, saved NIK

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_actor_action_at", ["actor", "action", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_log_subject_action_at", ["subject_hash", "action", "created_at"], unique=False
        )

    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_failed", sa.Integer(), nullable=False),
        sa.Column("people_created", sa.Integer(), nullable=False),
        sa.Column("people_updated", sa.Integer(), nullable=False),
        sa.Column("enrolments_created", sa.Integer(), nullable=False),
        sa.Column("enrolments_updated", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_run_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("import_line", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_enrolment_import_run", "import_run", ["import_run_id"], ["id"]
        )

    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("saved_nik_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("saved_nik_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("saved_nik_at", storage.types.UTCDateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_resident_saved_nik_hash"), ["saved_nik_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_saved_nik_hash"))
        batch_op.drop_column("saved_nik_at")
        batch_op.drop_column("saved_nik_encrypted")
        batch_op.drop_column("saved_nik_hash")

    with op.batch_alter_table("enrolment", schema=None) as batch_op:
        batch_op.drop_constraint("fk_enrolment_import_run", type_="foreignkey")
        batch_op.drop_column("import_line")
        batch_op.drop_column("import_run_id")

    op.drop_table("import_run")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_subject_action_at")
        batch_op.drop_index("ix_audit_log_actor_action_at")

    op.drop_table("audit_log")
