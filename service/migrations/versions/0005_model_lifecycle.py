"""model lifecycle: activations, shadow scores, audits of automation, daily drift

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BUCKETS = 10


def upgrade() -> None:
    op.create_table(
        "model_activations",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("activated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_model_activations")),
    )
    op.create_index("ix_model_activations_role", "model_activations", ["role", "sequence"])
    op.create_table(
        "shadow_scores",
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("video_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("scores", JSONType, nullable=False),
        sa.Column("thresholds", JSONType, nullable=False),
        sa.Column("scored_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", "model_version", name=op.f("pk_shadow_scores")),
    )
    op.create_index("ix_shadow_scores_time", "shadow_scores", ["scored_at"])
    op.create_table(
        "audits",
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("video_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=160), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("claims", sa.Integer(), server_default="0", nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=160), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("decided_label", sa.String(length=64), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_audits")),
        sa.UniqueConstraint("decision_id", name="uq_audits_decision_id"),
    )
    op.create_index("ix_audits_state", "audits", ["state", "created_at"])
    op.create_index("ix_audits_decided", "audits", ["decided_at"])
    op.create_table(
        "score_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        *[
            sa.Column(f"b{i}", sa.BigInteger(), server_default="0", nullable=False)
            for i in range(BUCKETS)
        ],
        sa.PrimaryKeyConstraint("day", "model_version", "label", name=op.f("pk_score_daily")),
    )
    op.create_table(
        "action_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("decisions", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "model_version", "action", name=op.f("pk_action_daily")),
    )


def downgrade() -> None:
    for table in ("action_daily", "score_daily", "audits", "shadow_scores", "model_activations"):
        op.drop_table(table)
