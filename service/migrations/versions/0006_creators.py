"""creators: notices, strikes, account actions; rollups count accounts actioned

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ACCOUNT_COUNTERS = ("accounts_warned", "accounts_restricted", "accounts_banned")


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("creator_id", sa.String(length=128), nullable=False),
        sa.Column("video_id", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("body", JSONType, nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_notices")),
    )
    op.create_index("ix_notices_creator", "notices", ["creator_id", "issued_at"])
    op.create_index("ix_notices_video", "notices", ["video_id", "issued_at"])
    op.create_table(
        "strikes",
        sa.Column("strike_id", sa.String(length=40), nullable=False),
        sa.Column("creator_id", sa.String(length=128), nullable=False),
        sa.Column("video_id", sa.String(length=128), nullable=False),
        sa.Column("removal_event_id", sa.String(length=36), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.Column("removed_by_event_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("strike_id", name=op.f("pk_strikes")),
        sa.UniqueConstraint("removal_event_id", name="uq_strikes_removal_event_id"),
    )
    op.create_index("ix_strikes_creator", "strikes", ["creator_id", "expires_at"])
    op.create_index("ix_strikes_video", "strikes", ["video_id"])
    op.create_table(
        "account_actions",
        sa.Column("action_id", sa.String(length=40), nullable=False),
        sa.Column("creator_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("strike_id", sa.String(length=40), nullable=False),
        sa.Column("video_id", sa.String(length=128), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by_event_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_account_actions")),
    )
    op.create_index("ix_account_actions_creator", "account_actions", ["creator_id", "started_at"])
    op.create_index("ix_account_actions_strike", "account_actions", ["strike_id"])
    with op.batch_alter_table("rollups") as batch:
        for name in ACCOUNT_COUNTERS:
            batch.add_column(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("rollups") as batch:
        for name in ACCOUNT_COUNTERS:
            batch.drop_column(name)
    for table in ("account_actions", "strikes", "notices"):
        op.drop_table(table)
