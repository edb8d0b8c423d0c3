"""The moderation domain: frozen dataclasses and enums, no I/O.

Routes convert request bodies into these, use cases work on them, the decision log maps rows
into them. Pydantic stays at the edges (service/schemas.py).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from classifier import Evidence, TranscriptSegment, Video


class Action(enum.StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    REMOVE = "remove"


class Status(enum.StrEnum):
    LIVE = "live"
    PENDING_REVIEW = "pending_review"
    REMOVED = "removed"
    APPEALED = "appealed"
    RESTORED = "restored"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    LIMITED = "limited"  # published, not recommended, until a moderator decides
    REMOVED = "removed"


class EventType(enum.StrEnum):
    SCORED = "scored"
    AUTO_REMOVED = "auto_removed"
    QUEUED_FOR_REVIEW = "queued_for_review"
    CLAIMED = "claimed"
    LEASE_EXPIRED = "lease_expired"
    HUMAN_REMOVED = "human_removed"
    HUMAN_APPROVED = "human_approved"
    USER_REPORTED = "user_reported"
    APPEAL_SUBMITTED = "appeal_submitted"
    APPEAL_UPHELD = "appeal_upheld"
    RESTORED = "restored"
    VIEWS_UPDATED = "views_updated"
    RELEASED = "released"  # a moderator gave a claimed item back
    SUPERSEDED = "superseded"  # an edit replaced the revision a review item was about
    AUDIT_SAMPLED = "audit_sampled"  # the model's decision was drawn for a human audit
    AUDIT_CONFIRMED = "audit_confirmed"  # the auditor found the model right
    AUDIT_OVERTURNED = "audit_overturned"  # found wrong (a removal: the video is restored)
    ACCOUNT_ACTIONED = "account_actioned"  # strikes reached a threshold (service/creators.py)
    ACCOUNT_ACTION_LIFTED = "account_action_lifted"  # its strike was taken back


class Role(enum.StrEnum):
    UPLOADER = "uploader"
    MODERATOR = "moderator"
    APPEALS_REVIEWER = "appeals_reviewer"
    ANALYST = "analyst"
    ADMIN = "admin"


# What each action does to a video's status and visibility (DESIGN.md section 2).
OUTCOME: Mapping[Action, tuple[Status, Visibility]] = {
    Action.ALLOW: (Status.LIVE, Visibility.PUBLIC),
    Action.REVIEW: (Status.PENDING_REVIEW, Visibility.LIMITED),
    Action.REMOVE: (Status.REMOVED, Visibility.REMOVED),
}


@dataclass(frozen=True, slots=True)
class Upload:
    """A video as the upload pipeline sends it."""

    video_id: str
    creator_id: str
    region: str
    language: str | None
    uploaded_at: dt.datetime
    content: Video
    duration_s: float | None = None

    def with_language(self, language: str) -> Upload:
        """This upload with its language detected. Built field by field: dataclasses.replace
        cost about 55,000 instructions a call on the scoring path (bench/app_cost.py)."""
        return Upload(
            self.video_id,
            self.creator_id,
            self.region,
            language,
            self.uploaded_at,
            self.content,
            self.duration_s,
        )

    def canonical_content(self) -> str:
        """The texts as compact JSON: what is stored for reviewers, and what is hashed."""
        transcript: object = self.content.transcript
        if not isinstance(self.content.transcript, str):
            transcript = [[s.start_s, s.end_s, s.text] for s in self.content.transcript]
        return json.dumps(
            [self.content.title, self.content.description, list(self.content.hashtags), transcript],
            ensure_ascii=False,
            separators=(",", ":"),
        )

    def content_hash(self) -> str:
        """sha256 of the texts; the same hash means the same content (idempotent scoring)."""
        return content_hash(self.canonical_content())


def content_hash(canonical_content: str) -> str:
    return hashlib.sha256(canonical_content.encode("utf-8")).hexdigest()


def content_from_canonical(canonical_content: str) -> Video:
    """The inverse of Upload.canonical_content."""
    title, description, hashtags, transcript = json.loads(canonical_content)
    if not isinstance(transcript, str):
        transcript = tuple(TranscriptSegment(start, end, text) for start, end, text in transcript)
    return Video(title, description, tuple(hashtags), transcript)


@dataclass(frozen=True, slots=True)
class Decision:
    decision_id: str
    video_id: str
    revision: int
    action: Action
    status: Status
    visibility: Visibility
    label: str | None
    scores: Mapping[str, float]
    evidence: Sequence[Evidence]
    thresholds: Mapping[str, Mapping[str, float | None]]
    model_version: str
    policy_version: str
    decided_at: dt.datetime
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    sequence: int
    video_id: str
    type: EventType
    region: str
    language: str
    label: str | None
    actor: str
    occurred_at: dt.datetime
    revision: int | None = None
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VideoState:
    video_id: str
    creator_id: str
    region: str
    language: str
    status: Status
    visibility: Visibility
    revision: int
    content_hash: str
    decision_id: str
    action: Action
    label: str | None
    model_version: str
    policy_version: str
    uploaded_at: dt.datetime
    first_scored_at: dt.datetime
    updated_at: dt.datetime
    views: int
    reports: int
    removed_at: dt.datetime | None = None
    views_at_removal: int | None = None
    first_reported_at: dt.datetime | None = None


class ReviewReason(enum.StrEnum):
    MODEL = "model"  # the model's score fell between the review and removal thresholds
    REPORT = "report"  # users reported a live video


class ItemState(enum.StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    SUPERSEDED = "superseded"  # an edit replaced the revision before anyone decided


class Verdict(enum.StrEnum):
    REMOVE = "remove"
    APPROVE = "approve"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One video revision waiting for (or given) a human decision."""

    item_id: str
    video_id: str
    revision: int
    reason: ReviewReason
    language: str  # the queue language (review_queue.queue_language of the video's)
    region: str
    label: str | None  # the label that sent it to review (a report's: the highest-scoring)
    score: float
    state: ItemState
    created_at: dt.datetime
    claimed_by: str | None = None
    lease_expires_at: dt.datetime | None = None
    claims: int = 0
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    verdict: Verdict | None = None
    decided_label: str | None = None
    note: str | None = None


class AppealVerdict(enum.StrEnum):
    RESTORE = "restore"
    UPHOLD = "uphold"


@dataclass(frozen=True, slots=True)
class Appeal:
    """A creator's appeal of one removal, worked like a review item by an appeals reviewer."""

    item_id: str
    video_id: str
    revision: int
    removal_event_id: str  # the removal appealed: one appeal per removal
    removed_by: str  # the removal's actor: model:<version> or a moderator's key
    automated: bool
    label: str | None  # the policy label of the removal
    score: float  # the model's score for that label
    language: str  # the queue language
    region: str
    statement: str
    state: ItemState
    created_at: dt.datetime
    claimed_by: str | None = None
    lease_expires_at: dt.datetime | None = None
    claims: int = 0
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    verdict: AppealVerdict | None = None
    note: str | None = None


class AuditVerdict(enum.StrEnum):
    CONFIRM = "confirm"  # the model's action was right
    OVERTURN = "overturn"  # it was wrong: a removal is restored, an allowed video removed


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One automated decision (a removal, or an allow) sampled for a person to check."""

    item_id: str
    video_id: str
    revision: int
    decision_id: str
    action: Action  # what the model did: remove or allow
    label: str | None  # a removal's label; for an allow, the highest-scoring label
    score: float
    model_version: str
    language: str  # the queue language
    region: str
    state: ItemState
    created_at: dt.datetime
    claimed_by: str | None = None
    lease_expires_at: dt.datetime | None = None
    claims: int = 0
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    verdict: AuditVerdict | None = None
    decided_label: str | None = None  # an overturned allow: the label the video breaks
    note: str | None = None
    applied: bool | None = None  # an overturn that changed the video (None: not decided)
