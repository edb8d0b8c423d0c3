"""daily rollups for the enforcement report, filled from the events already logged

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COUNTERS = (
    "uploads",
    "removals",
    "removals_automated",
    "removals_zero_views",
    "removals_within_24h",
    "removals_proactive",
    "restorations",
)


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        *[
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            for name in COUNTERS
        ],
        sa.PrimaryKeyConstraint("day", "region", "label", name=op.f("pk_rollups")),
    )
    # Logs written before this migration have no rollups yet: `mizan rollups rebuild` fills
    # them (removal events from before it lack the facts a removal's counts need, see README).


def downgrade() -> None:
    op.drop_table("rollups")
