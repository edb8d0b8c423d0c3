"""Request and response bodies of the model-lifecycle API: model versions (promotion, rollback,
shadow) and audits of automation. Pydantic, edges only, like service/schemas.py."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from service.schemas import ContentOut, DecisionOut, ReviewVideoOut

# --- model versions -----------------------------------------------------------------------


class ModelVersionOut(BaseModel):
    version: str
    role: Literal["champion", "shadow"] | None = Field(
        description="champion: decides and acts; shadow: scored beside it, never acts"
    )
    created_at: str
    labels: list[str]
    training: dict[str, object] = Field(
        description="the card's training record: data, its hash, the human-label mix"
    )
    metrics: dict[str, object] = Field(description="the card's metrics on its validation split")


class ActivationOut(BaseModel):
    sequence: int
    role: Literal["champion", "shadow"]
    version: str | None = Field(description="null: the shadow was turned off")
    actor: str
    activated_at: dt.datetime


class ModelsOut(BaseModel):
    champion: str
    shadow: str | None
    refresh_s: float = Field(description="every API process follows a change within this time")
    versions: list[ModelVersionOut]
    history: list[ActivationOut] = Field(description="the latest activations, newest first")


# --- audits of automation -----------------------------------------------------------------


class AuditOut(BaseModel):
    audit_id: str
    video_id: str
    revision: int
    decision_id: str
    audited_action: Literal["remove", "allow"] = Field(description="what the model did")
    label: str | None = Field(description="the removal's label; an allow's top-scoring label")
    score: float
    model_version: str
    queue_language: str
    region: str
    state: Literal["open", "decided"]
    created_at: dt.datetime
    claimed_by: str | None
    lease_expires_at: dt.datetime | None
    lease_remaining_s: float | None
    decided_at: dt.datetime | None
    decided_by: str | None
    verdict: Literal["confirm", "overturn"] | None
    decided_label: str | None
    note: str | None
    applied: bool | None = Field(
        description="an overturn changed the video (false: it had moved on, e.g. edited)"
    )


class AuditClaimOut(BaseModel):
    """A leased audit: the model's decision audited (scores, evidence, thresholds), the video
    as it is now and the texts the model read."""

    audit: AuditOut
    video: ReviewVideoOut
    decision: DecisionOut
    content: ContentOut | None


class AuditDecisionIn(BaseModel):
    verdict: Literal["confirm", "overturn"]
    label: str | None = Field(
        default=None, description="overturning an allowed video: the policy label it breaks"
    )
    note: str | None = None


class AuditDecisionOut(BaseModel):
    audit: AuditOut
    video: ReviewVideoOut
