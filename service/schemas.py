"""Request and response bodies of the HTTP API (DESIGN.md section 11): pydantic, edges only.

Field names are the contract the upload pipeline codes against. Size limits are settings
(service.settings) checked by service.limits, so an operator can change them without a code
change; the schema checks only shapes and formats.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

VIDEO_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
REGION = r"^[A-Z]{2}$"
BCP47 = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=VIDEO_ID)]


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_text(value: object) -> object:
    """pydantic would also take a number, or digits in a string, as Unix time, and a time
    without seconds; the contract says RFC 3339 date-time text."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time, e.g. 2023-03-01T10:00:00+05:00")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


def _finite(value: float) -> float:
    # NaN, Infinity, or a number past a float's range (1e309, read as inf)
    if not math.isfinite(value):
        raise ValueError("must be a finite number of seconds")
    return value


# strict: no booleans or numeric strings
Seconds = Annotated[float, Field(ge=0, strict=True), AfterValidator(_finite)]


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start_s: Seconds
    end_s: Seconds
    text: str


class VideoIn(BaseModel):
    """A video as the upload pipeline sends it. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    video_id: Identifier
    creator_id: Identifier
    region: str = Field(pattern=REGION, description="ISO 3166-1 alpha-2, e.g. PK")
    language: str | None = Field(
        default=None, pattern=BCP47, max_length=35, description="BCP 47; detected when absent"
    )
    uploaded_at: Timestamp = Field(description="RFC 3339 with a time zone")
    title: str = ""
    description: str = ""
    hashtags: list[str] = Field(default_factory=list)
    transcript: str | list[SegmentIn] = Field(
        default="", description="plain text, or speech-to-text segments"
    )
    duration_s: Seconds | None = None


class BatchIn(BaseModel):
    videos: list[VideoIn] = Field(min_length=1)


class EvidenceOut(BaseModel):
    label: str
    field: str
    start_s: float | None
    end_s: float | None
    text: str
    score: float


class DecisionOut(BaseModel):
    decision_id: str
    video_id: str
    revision: int
    action: Literal["remove", "review", "allow"]
    status: str
    visibility: Literal["removed", "limited", "public"]
    label: str | None
    scores: dict[str, float]
    evidence: list[EvidenceOut]
    thresholds: dict[str, dict[str, float | None]]
    model_version: str
    policy_version: str
    decided_at: dt.datetime


class BatchOut(BaseModel):
    decisions: list[DecisionOut]


class ViewsIn(BaseModel):
    views: int = Field(ge=0, le=10**15, strict=True)


class ReportIn(BaseModel):
    reason: str = Field(min_length=1)
    reporter_id: Identifier


class EventOut(BaseModel):
    event_id: str
    sequence: int
    type: str
    revision: int | None
    label: str | None
    actor: str
    occurred_at: dt.datetime
    data: dict[str, object]


class VideoOut(BaseModel):
    video_id: str
    creator_id: str
    region: str
    language: str
    status: str
    visibility: str
    revision: int
    action: str
    label: str | None
    model_version: str
    policy_version: str
    uploaded_at: dt.datetime
    first_scored_at: dt.datetime
    removed_at: dt.datetime | None
    views: int
    views_at_removal: int | None
    reports: int
    first_reported_at: dt.datetime | None
    decision: DecisionOut
    history: list[EventOut]
    reviews: list[ReviewItemOut] = Field(description="human reviews of the video, oldest first")
    appeals: list[AppealOut] = Field(description="appeals and their outcomes, oldest first")
    notices: list[NoticeOut] = Field(
        default_factory=list, description="what the creator was told, oldest first"
    )


class ReportOut(BaseModel):
    video_id: str
    reports: int
    counted: bool = Field(description="false when this reporter had reported it already")


class ViewsOut(BaseModel):
    video_id: str
    views: int


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, object]] | None = None


# --- human review -------------------------------------------------------------------------


class ReviewItemOut(BaseModel):
    item_id: str
    video_id: str
    revision: int
    reason: Literal["model", "report"] = Field(description="what sent it to review")
    queue_language: str
    region: str
    label: str | None = Field(description="the label that sent it to review")
    score: float
    state: Literal["open", "decided", "superseded"]
    created_at: dt.datetime
    claimed_by: str | None
    lease_expires_at: dt.datetime | None
    lease_remaining_s: float | None
    claims: int
    decided_at: dt.datetime | None
    decided_by: str | None
    verdict: Literal["remove", "approve"] | None
    decided_label: str | None
    note: str | None


class ContentOut(BaseModel):
    title: str
    description: str
    hashtags: list[str]
    transcript: str | list[SegmentIn]


class ReviewVideoOut(BaseModel):
    video_id: str
    creator_id: str
    region: str
    language: str
    status: str
    visibility: str
    revision: int
    uploaded_at: dt.datetime
    views: int
    reports: int


class ClaimOut(BaseModel):
    """A leased item with everything needed to decide it."""

    item: ReviewItemOut
    video: ReviewVideoOut
    decision: DecisionOut = Field(description="the model's decision on this revision")
    content: ContentOut | None = Field(description="the texts that were scored")


class ReviewDecisionIn(BaseModel):
    verdict: Literal["remove", "approve"]
    label: str | None = Field(default=None, description="the policy label; removals only")
    note: str | None = Field(default=None, description="for the log and later reviewers")


class ReviewDecisionOut(BaseModel):
    item: ReviewItemOut
    video: ReviewVideoOut


class QueueOut(BaseModel):
    queue: str = Field(description="the RQ queue name, e.g. review:ur:high")
    language: str
    priority: Literal["high", "normal", "low"]
    waiting: int
    leased: int
    oldest_age_s: float | None
    past_target: int = Field(description="items older than the target age (default 24 h)")


class QueuesOut(BaseModel):
    target_s: float
    waiting: int
    leased: int
    past_target: int
    queues: list[QueueOut]


# --- appeals ------------------------------------------------------------------------------


class AppealIn(BaseModel):
    statement: str = Field(min_length=1, description="the creator's own words")


class AppealOut(BaseModel):
    appeal_id: str
    video_id: str
    revision: int
    removal_event_id: str
    removed_by: str = Field(description="model:<version>, or the moderator's key")
    automated: bool
    label: str | None
    score: float
    queue_language: str
    region: str
    statement: str
    state: Literal["open", "decided"]
    created_at: dt.datetime
    claimed_by: str | None
    lease_expires_at: dt.datetime | None
    lease_remaining_s: float | None
    decided_at: dt.datetime | None
    decided_by: str | None
    verdict: Literal["restore", "uphold"] | None
    note: str | None


class RemovalOut(BaseModel):
    event_id: str
    type: str = Field(description="auto_removed or human_removed")
    actor: str
    label: str | None
    occurred_at: dt.datetime


class AppealClaimOut(BaseModel):
    """A leased appeal with what the reviewer needs: the removal, the model's decision with
    its scores and evidence, the texts and the creator's statement (in ``appeal``)."""

    appeal: AppealOut
    video: ReviewVideoOut
    removal: RemovalOut
    decision: DecisionOut
    content: ContentOut | None


class AppealDecisionIn(BaseModel):
    verdict: Literal["restore", "uphold"]
    note: str | None = None


class AppealDecisionOut(BaseModel):
    appeal: AppealOut
    video: ReviewVideoOut


from service.schemas_creators import NoticeOut  # noqa: E402  (it imports nothing from here)

VideoOut.model_rebuild()
