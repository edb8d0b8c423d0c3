"""/v1/videos: score, score-batch, a video's status and history, views, user reports, appeals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from classifier import TranscriptSegment, Video
from service.appeals import Appeals
from service.auth import Uploader, VideoReader
from service.coalescer import ScoringCoalescer
from service.decision_log import DecisionLog
from service.domain import Upload
from service.errors import NotFoundError
from service.limits import check_text, check_videos
from service.moderation import Moderation
from service.openapi import conflict
from service.review_log import ReviewLog
from service.routes.convert import (
    to_appeal_out,
    to_decision_out,
    to_event_out,
    to_item_out,
)
from service.schemas import (
    VIDEO_ID,
    AppealIn,
    AppealOut,
    BatchIn,
    BatchOut,
    DecisionOut,
    ReportIn,
    ReportOut,
    VideoIn,
    VideoOut,
    ViewsIn,
    ViewsOut,
)
from service.schemas_creators import NoticeOut
from service.settings import Settings

router = APIRouter(prefix="/v1/videos", tags=["videos"])
VideoId = Annotated[str, Path(min_length=1, max_length=128, pattern=VIDEO_ID)]
REPLAYED = "Idempotent-Replayed"


def _moderation(request: Request) -> Moderation:
    moderation: Moderation = request.app.state.moderation
    return moderation


def _coalescer(request: Request) -> ScoringCoalescer:
    coalescer: ScoringCoalescer = request.app.state.coalescer
    return coalescer


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def to_upload(body: VideoIn) -> Upload:
    transcript: str | tuple[TranscriptSegment, ...]
    if isinstance(body.transcript, str):
        transcript = body.transcript
    else:
        transcript = tuple(TranscriptSegment(s.start_s, s.end_s, s.text) for s in body.transcript)
    return Upload(
        video_id=body.video_id,
        creator_id=body.creator_id,
        region=body.region,
        language=body.language,
        uploaded_at=body.uploaded_at,
        content=Video(body.title, body.description, tuple(body.hashtags), transcript),
        duration_s=body.duration_s,
    )


@router.post(
    "/score",
    response_model=DecisionOut,
    summary="Score one video, act, log it",
    responses=conflict("the video is removed and this is an edit: appeal instead"),
)
async def score(body: VideoIn, request: Request, response: Response, key: Uploader) -> DecisionOut:
    """Scores the video's texts, applies the policy and logs the decision.

    The same video_id with the same content returns the first decision and writes nothing
    (header Idempotent-Replayed: true); edited content is scored as a new revision.
    """
    # async: the decision is made on the worker's scoring thread (service/coalescer.py),
    # together with any other scoring requests waiting there; this coroutine only waits
    check_videos([body], _settings(request), batch=False)
    (result,) = await _coalescer(request).score([to_upload(body)], all_or_none=False)
    if not result.is_new:
        response.headers[REPLAYED] = "true"
    return to_decision_out(result.decision)


@router.post(
    "/score-batch",
    response_model=BatchOut,
    summary="Score up to max_batch_videos",
    responses=conflict("a video is removed and this is an edit; none is logged"),
)
async def score_batch(body: BatchIn, request: Request, key: Uploader) -> BatchOut:
    """One decision per video, in order. All are logged together, or (on any error) none."""
    check_videos(body.videos, _settings(request), batch=True)
    uploads = [to_upload(video) for video in body.videos]
    results = await _coalescer(request).score(uploads, all_or_none=True)
    return BatchOut(decisions=[to_decision_out(r.decision) for r in results])


@router.get("/{video_id}", response_model=VideoOut, summary="Status and history of a video")
def get_video(video_id: VideoId, request: Request, key: VideoReader) -> VideoOut:
    log: DecisionLog = request.app.state.decision_log
    review_log: ReviewLog = request.app.state.parts.review_log
    appeals: Appeals = request.app.state.appeals
    now = dt.datetime.now(dt.UTC)
    state = log.current(video_id)
    if state is None:
        raise NotFoundError(f"no video {video_id}")
    return VideoOut(
        video_id=state.video_id,
        creator_id=state.creator_id,
        region=state.region,
        language=state.language,
        status=state.status.value,
        visibility=state.visibility.value,
        revision=state.revision,
        action=state.action.value,
        label=state.label,
        model_version=state.model_version,
        policy_version=state.policy_version,
        uploaded_at=state.uploaded_at,
        first_scored_at=state.first_scored_at,
        removed_at=state.removed_at,
        views=state.views,
        views_at_removal=state.views_at_removal,
        reports=state.reports,
        first_reported_at=state.first_reported_at,
        decision=to_decision_out(log.decision(state.decision_id)),
        history=[to_event_out(event) for event in log.history(video_id)],
        reviews=[to_item_out(item, now) for item in review_log.items_of(video_id)],
        appeals=[to_appeal_out(appeal, now) for appeal in appeals.appeals_of(video_id)],
        notices=[
            NoticeOut.model_validate(n)
            for n in request.app.state.parts.creators.notices_of(video_id)
        ],
    )


@router.post("/{video_id}/views", response_model=ViewsOut, summary="The latest view count")
def views(video_id: VideoId, body: ViewsIn, request: Request, key: Uploader) -> ViewsOut:
    """View counts only grow: a count lower than the one stored changes nothing."""
    state = _moderation(request).record_views(video_id, body.views, key.actor)
    return ViewsOut(video_id=state.video_id, views=state.views)


@router.post("/{video_id}/reports", response_model=ReportOut, summary="A user report")
def report(video_id: VideoId, body: ReportIn, request: Request, key: Uploader) -> ReportOut:
    """Counted once per reporter; a repeated report from the same reporter changes nothing."""
    settings = _settings(request)
    check_text(body.reason, "reason", settings.max_report_reason_chars)
    state, counted = _moderation(request).record_report(
        video_id, body.reporter_id, body.reason, key.actor
    )
    return ReportOut(video_id=state.video_id, reports=state.reports, counted=counted)


@router.post(
    "/{video_id}/appeals",
    response_model=AppealOut,
    status_code=201,
    summary="A creator's appeal of a removal",
    responses=conflict("not removed, already under appeal, appealed already, or too late"),
)
def appeal(video_id: VideoId, body: AppealIn, request: Request, key: Uploader) -> AppealOut:
    """Accepted for a removed video, once per removal, within the appeal window (default 180
    days): anything else is 409. The video is `appealed` (still removed) until an appeals
    reviewer restores it or upholds the removal."""
    check_text(body.statement, "statement", _settings(request).max_statement_chars)
    appeals: Appeals = request.app.state.appeals
    submitted = appeals.submit(video_id, body.statement, key.actor)
    return to_appeal_out(submitted, dt.datetime.now(dt.UTC))
