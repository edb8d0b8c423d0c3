"""Response bodies about creators: the notices they are sent, their strikes and account
actions (service/creators.py). Pydantic, edges only, like service/schemas.py."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class GuidelineOut(BaseModel):
    label: str
    area: str
    summary: str = Field(description="the rule, in plain words")
    what_you_can_do: str


class NoticeEvidenceOut(BaseModel):
    """The words that broke the guideline and where (never the model's scores)."""

    field: str | None
    start_s: float | None
    end_s: float | None
    text: str | None


class NoticeOut(BaseModel):
    notice_id: str
    kind: Literal["removal", "restoration", "appeal_upheld"]
    video_id: str
    creator_id: str
    event_id: str = Field(description="the enforcement event the notice is about")
    language: str = Field(description="the catalogue language used: the video's, else en")
    direction: Literal["ltr", "rtl"] = Field(description="how to lay the text out")
    headline: str
    guideline: GuidelineOut | None
    evidence: NoticeEvidenceOut | None
    decided_by: Literal["machine", "person"]
    decided_by_text: str
    appeal_deadline: str | None = Field(description="RFC 3339; removals only")
    appeal_until_text: str | None
    issued_at: str


class StrikeOut(BaseModel):
    strike_id: str
    video_id: str
    label: str | None
    region: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    removed_at: dt.datetime | None = Field(description="taken back by a restoration")
    active: bool


class AccountActionOut(BaseModel):
    action_id: str
    action: Literal["warning", "upload_restriction", "ban"]
    strikes: int = Field(description="active strikes when it was taken")
    strike_id: str = Field(description="the strike that reached the threshold")
    video_id: str
    region: str
    started_at: dt.datetime
    ends_at: dt.datetime | None = Field(description="null: until lifted")
    lifted_at: dt.datetime | None
    in_force: bool


class CreatorOut(BaseModel):
    creator_id: str
    active_strikes: int
    strike_window_days: int
    upload_restricted_until: dt.datetime | None
    banned: bool
    strikes: list[StrikeOut] = Field(description="every strike, oldest first")
    actions: list[AccountActionOut] = Field(description="every account action, oldest first")
    notices: list[NoticeOut] = Field(description="the latest notices, newest first")
