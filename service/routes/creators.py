"""/v1/creators/{creator_id}: a creator's standing, for the upload pipeline (to enforce an
upload restriction or a ban, and to show the creator their notices) and for moderators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from service.auth import CreatorReader
from service.creators import Creators
from service.errors import NotFoundError
from service.schemas import VIDEO_ID
from service.schemas_creators import AccountActionOut, CreatorOut, NoticeOut, StrikeOut

router = APIRouter(prefix="/v1/creators", tags=["creators"])
CreatorId = Annotated[str, Path(min_length=1, max_length=128, pattern=VIDEO_ID)]


@router.get("/{creator_id}", response_model=CreatorOut, summary="Strikes, actions, notices")
def get_creator(creator_id: CreatorId, request: Request, key: CreatorReader) -> CreatorOut:
    """Active strikes, every account action (and whether it is in force now: an upload
    restriction until `ends_at`, a ban until lifted), and the latest notices, newest first."""
    creators: Creators = request.app.state.parts.creators
    record = creators.record(creator_id)
    if not record.strikes and not record.notices and not creators.known(creator_id):
        raise NotFoundError(f"no creator {creator_id}")
    active_ids = {s["strike_id"] for s in record.active_strikes}
    return CreatorOut(
        creator_id=creator_id,
        active_strikes=len(record.active_strikes),
        strike_window_days=creators.strike_policy.window.days,
        upload_restricted_until=record.upload_restricted_until,
        banned=record.banned,
        strikes=[
            StrikeOut(
                **{k: s[k] for k in StrikeOut.model_fields if k in s},
                active=s["strike_id"] in active_ids,
            )
            for s in record.strikes
        ],
        actions=[
            AccountActionOut(**{k: a[k] for k in AccountActionOut.model_fields})
            for a in record.actions
        ],
        notices=[NoticeOut.model_validate(n) for n in record.notices],
    )
