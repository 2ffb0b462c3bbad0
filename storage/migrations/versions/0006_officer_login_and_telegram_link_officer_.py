"""officer login and telegram link, officer posts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "officer_post",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("rejecting_officer_id", sa.Integer(), nullable=True),
        sa.Column("prompt_message_id", sa.Integer(), nullable=True),
        sa.Column("posted_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rejecting_officer_id"],
            ["officer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
        ),
        sa.PrimaryKeyConstraint("report_id"),
    )
    with op.batch_alter_table("officer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("telegram_user_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("link_code_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("link_code_expires_at", storage.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_unique_constraint("uq_officer_telegram_user_id", ["telegram_user_id"])


def downgrade() -> None:
    with op.batch_alter_table("officer", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("uq_officer_telegram_user_id", type_="unique")
        batch_op.drop_column("link_code_expires_at")
        batch_op.drop_column("link_code_hash")
        batch_op.drop_column("telegram_user_id")
        batch_op.drop_column("password_hash")

    op.drop_table("officer_post")
