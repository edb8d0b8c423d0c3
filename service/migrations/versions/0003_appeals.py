"""appeals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("video_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("removal_event_id", sa.String(length=36), nullable=False),
        sa.Column("removed_by", sa.String(length=160), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("statement", sa.String(length=5000), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=160), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("claims", sa.Integer(), server_default="0", nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=160), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("removal_event_id", name="uq_appeals_removal_event_id"),
    )
    with op.batch_alter_table("appeals") as batch_op:
        batch_op.create_index("ix_appeals_state", ["state", "created_at"], unique=False)
        batch_op.create_index("ix_appeals_video", ["video_id"], unique=False)


def downgrade() -> None:
    op.drop_table("appeals")
