"""The decision log's schema (SQLAlchemy Core). Alembic migrations create it; see migrations/.

- ``events``: append-only, one row per transition (DESIGN.md section 6). ``sequence`` orders
  them; ``event_id`` is the id receivers of webhooks deduplicate on.
- ``decisions``: one row per scored revision of a video (the answer idempotent scoring returns).
- ``videos``: the current state of each video, updated in the same transaction as its events.
- ``reports``: one row per (video, reporter), so a repeated report is counted once.
- ``api_keys``: keys stored as sha256 digests, with roles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the decision log")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite: the very text SQLAlchemy's DATETIME stores ("2026-12-03 13:27:51.128559"),
        # made in one step: the conversion above and then its formatting (a dict, a
        # %-format) took about half as long again, five times a scored video
        # (bench/scoring_parts.py). A scoring round binds one `now` four times a video, so the
        # last conversion is kept, by identity (swapped as one tuple: safe across threads).
        last: tuple[dt.datetime | None, str | None] = (None, None)

        def process(value: dt.datetime | None) -> str | None:
            nonlocal last
            if value is None:
                return None
            seen, text = last
            if value is seen:
                return text
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the decision log")
            naive = value.astimezone(dt.UTC).replace(tzinfo=None)
            text = naive.isoformat(" ", "microseconds")
            last = (value, text)
            return text

        return process

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(128)

events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "sequence",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("region", sa.String(2), nullable=False),
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("actor", sa.String(160), nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Index("ix_events_video", "video_id", "sequence"),
    sa.Index("ix_events_time", "occurred_at"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("scores", JSONType, nullable=False),
    sa.Column("evidence", JSONType, nullable=False),
    sa.Column("thresholds", JSONType, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("video_id", "revision", name="uq_decisions_video_revision"),
)

videos = sa.Table(
    "videos",
    metadata,
    sa.Column("video_id", ID, primary_key=True),
    sa.Column("creator_id", ID, nullable=False),
    sa.Column("region", sa.String(2), nullable=False),
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("decision_id", sa.String(36), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("uploaded_at", UTCDateTime, nullable=False),
    sa.Column("first_scored_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("views", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reports", sa.Integer, nullable=False, server_default="0"),
    sa.Column("removed_at", UTCDateTime, nullable=True),
    sa.Column("views_at_removal", sa.BigInteger, nullable=True),
    sa.Column("first_reported_at", UTCDateTime, nullable=True),
    sa.Index("ix_videos_creator", "creator_id"),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("video_id", ID, primary_key=True),
    sa.Column("reporter_id", ID, primary_key=True),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("reported_at", UTCDateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("key_sha256", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("roles", JSONType, nullable=False),
    sa.Column("languages", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)


def _leased_item_columns() -> list[sa.Column[Any]]:
    """What every item people work under a lease has (service/leased_log.py reads them)."""
    return [
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("claimed_by", sa.String(160), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime, nullable=True),
        sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("decided_by", sa.String(160), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
    ]


# One row per video revision sent to human review (DESIGN.md section 7); Redis queues are
# rebuilt from the open ones. Unique per revision: a revision is reviewed once, however many
# reports arrive.
review_items = sa.Table(
    "review_items",
    metadata,
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("region", sa.String(2), nullable=False),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("score", sa.Float, nullable=False),
    *_leased_item_columns(),
    sa.Column("decided_label", sa.String(64), nullable=True),
    sa.UniqueConstraint("video_id", "revision", name="uq_review_items_video_revision"),
    sa.Index("ix_review_items_state", "state", "created_at"),
)

# The texts of each scored revision, as Upload.canonical_content: what reviewers read.
contents = sa.Table(
    "contents",
    metadata,
    sa.Column("video_id", ID, primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("content", sa.Text, nullable=False),
)

# Transactional outbox of webhooks: written with the event they announce, delivered by an
# RQ job, re-enqueued by reconcile until delivered_at is set.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Index("ix_outbox_pending", "delivered_at", "created_at"),
)

# One row per appeal of a removal (unique per removal event), worked under a lease like a
# review item; the appeals queues in Redis are rebuilt from the open ones.
appeals = sa.Table(
    "appeals",
    metadata,
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("removal_event_id", sa.String(36), nullable=False),
    sa.Column("removed_by", sa.String(160), nullable=False),
    sa.Column("automated", sa.Boolean, nullable=False),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("region", sa.String(2), nullable=False),
    sa.Column("statement", sa.String(5000), nullable=False),
    *_leased_item_columns(),
    sa.UniqueConstraint("removal_event_id", name="uq_appeals_removal_event_id"),
    sa.Index("ix_appeals_state", "state", "created_at"),
    sa.Index("ix_appeals_video", "video_id"),
)

# The enforcement report's counts per UTC day, region and policy label ("" for uploads),
# added to in the transaction of each event that counts (service/rollups.py).
rollups = sa.Table(
    "rollups",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("region", sa.String(2), primary_key=True),
    sa.Column("label", sa.String(64), primary_key=True),
    *[
        sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
        for name in (
            "uploads",
            "removals",
            "removals_automated",
            "removals_zero_views",
            "removals_within_24h",
            "removals_proactive",
            "restorations",
            "accounts_warned",
            "accounts_restricted",
            "accounts_banned",
        )
    ],
)

# Which model version scores as champion (acts) and which as shadow (scored beside, never acts):
# the latest row per role is in force; before the first row, models/ACTIVE names the champion.
# Append-only, so the history of promotions and rollbacks is kept (service/model_registry.py).
model_activations = sa.Table(
    "model_activations",
    metadata,
    sa.Column(
        "sequence",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("role", sa.String(16), nullable=False),  # champion | shadow
    sa.Column("version", sa.String(64), nullable=True),  # a shadow of None: shadow off
    sa.Column("actor", sa.String(160), nullable=False),
    sa.Column("activated_at", UTCDateTime, nullable=False),
    sa.Index("ix_model_activations_role", "role", "sequence"),
)

# A challenger's scores and would-be action for a decision the champion made (shadow mode).
shadow_scores = sa.Table(
    "shadow_scores",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("scores", JSONType, nullable=False),
    sa.Column("thresholds", JSONType, nullable=False),
    sa.Column("scored_at", UTCDateTime, nullable=False),
    sa.Index("ix_shadow_scores_time", "scored_at"),
)

# A sample of the model's own decisions (automated removals, allowed videos) put before a
# person, to measure how often automation is right (service/audit_log.py).
audits = sa.Table(
    "audits",
    metadata,
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("decision_id", sa.String(36), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # the audited action: remove | allow
    sa.Column("label", sa.String(64), nullable=True),  # removal's label; allow: top-scoring
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("region", sa.String(2), nullable=False),
    *_leased_item_columns(),
    sa.Column("decided_label", sa.String(64), nullable=True),
    sa.Column("applied", sa.Boolean, nullable=True),  # an overturn changed the video
    sa.UniqueConstraint("decision_id", name="uq_audits_decision_id"),
    sa.Index("ix_audits_state", "state", "created_at"),
    sa.Index("ix_audits_decided", "decided_at"),
)

SCORE_BUCKETS = 10  # score histogram buckets of width 0.1: b0 = [0, 0.1) .. b9 = [0.9, 1]

# Drift: per UTC day and model version, each label's score histogram and each action's count,
# added to in the scoring transaction (service/drift.py).
score_daily = sa.Table(
    "score_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(64), primary_key=True),
    *[
        sa.Column(f"b{i}", sa.BigInteger, nullable=False, server_default="0")
        for i in range(SCORE_BUCKETS)
    ],
)

action_daily = sa.Table(
    "action_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("action", sa.String(16), primary_key=True),
    sa.Column("decisions", sa.BigInteger, nullable=False, server_default="0"),
)

# What each enforcement told its creator (service/creators.py): the notice as sent in the
# webhook and shown by GET /v1/videos/{id} and GET /v1/creators/{id}.
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("notice_id", sa.String(36), primary_key=True),
    sa.Column("creator_id", ID, nullable=False),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # removal | restoration | appeal_upheld
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("body", JSONType, nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Index("ix_notices_creator", "creator_id", "issued_at"),
    sa.Index("ix_notices_video", "video_id", "issued_at"),
)

# One strike per removal (unique per removal event), active until it expires or the removal is
# restored.
strikes = sa.Table(
    "strikes",
    metadata,
    sa.Column("strike_id", sa.String(40), primary_key=True),
    sa.Column("creator_id", ID, nullable=False),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("removal_event_id", sa.String(36), nullable=False),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("region", sa.String(2), nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("removed_at", UTCDateTime, nullable=True),
    sa.Column("removed_by_event_id", sa.String(36), nullable=True),
    sa.UniqueConstraint("removal_event_id", name="uq_strikes_removal_event_id"),
    sa.Index("ix_strikes_creator", "creator_id", "expires_at"),
    sa.Index("ix_strikes_video", "video_id"),
)

# Warnings, upload restrictions and bans, each caused by the strike that reached its threshold.
account_actions = sa.Table(
    "account_actions",
    metadata,
    sa.Column("action_id", sa.String(40), primary_key=True),
    sa.Column("creator_id", ID, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("strikes", sa.Integer, nullable=False),  # active strikes when it was taken
    sa.Column("strike_id", sa.String(40), nullable=False),
    sa.Column("video_id", ID, nullable=False),
    sa.Column("region", sa.String(2), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=True),  # None: until lifted
    sa.Column("lifted_at", UTCDateTime, nullable=True),
    sa.Column("lifted_by_event_id", sa.String(36), nullable=True),
    sa.Index("ix_account_actions_creator", "creator_id", "started_at"),
    sa.Index("ix_account_actions_strike", "strike_id"),
)
