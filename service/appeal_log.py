"""Appeals in the decision log: submitted against one removal, worked under a lease like review
items (service/leased_log.py), and decided (restore or uphold) with the video's new state, its
event and its webhook in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from review_queue import Priority, queue_language
from service.creators import Enforcement
from service.database import write_transaction
from service.domain import (
    Appeal,
    AppealVerdict,
    EventType,
    ItemState,
    Status,
    VideoState,
    Visibility,
)
from service.effects import Effects, QueueChange
from service.errors import ConflictError, NotFoundError
from service.ids import new_hex
from service.leased_log import LeasedLog, Outcome
from service.log_rows import appeal, append_events, event_row, locked_video, video_state
from service.tables import appeals, decisions, events, videos

REMOVALS = (EventType.AUTO_REMOVED.value, EventType.HUMAN_REMOVED.value)
APPEAL_PRIORITY = Priority.NORMAL  # appeals are worked oldest first


@dataclass(frozen=True, slots=True)
class AppealDecided:
    appeal: Appeal
    video: VideoState
    effects: Effects


class AppealLog(LeasedLog[Appeal]):
    def __init__(
        self,
        engine: sa.Engine,
        *,
        languages: Sequence[str],
        window: dt.timedelta,
        webhooks: bool = False,
        enforcement: Enforcement | None = None,
    ) -> None:
        super().__init__(
            engine, appeals, appeal, "appeal", webhooks=webhooks, enforcement=enforcement
        )
        self._languages = tuple(languages)
        self._window = window

    # reads ---------------------------------------------------------------------------------

    def appeals_of(self, video_id: str) -> list[Appeal]:
        query = (
            sa.select(appeals).where(appeals.c.video_id == video_id).order_by(appeals.c.created_at)
        )
        with self._engine.connect() as connection:
            return [appeal(row._mapping) for row in connection.execute(query)]

    def open_items(self) -> list[QueueChange]:
        query = (
            sa.select(appeals)
            .where(appeals.c.state == ItemState.OPEN.value)
            .order_by(appeals.c.created_at)
        )
        with self._engine.connect() as connection:
            return [
                QueueChange(appeal(row._mapping), 0, 0, APPEAL_PRIORITY)
                for row in connection.execute(query)
            ]

    # writes --------------------------------------------------------------------------------

    def submit(
        self, video_id: str, statement: str, actor: str, now: dt.datetime
    ) -> tuple[Appeal, Effects]:
        """A creator's appeal of the video's current removal: once per removal, within the
        window; the video is `appealed` (still removed) until an appeals reviewer decides."""
        with write_transaction(self._engine) as connection:
            video = locked_video(connection, video_id)
            if video is None:
                raise NotFoundError(f"no video {video_id}")
            status = Status(video["status"])
            if status is Status.APPEALED:
                raise ConflictError(f"video {video_id} is already under appeal")
            if status is not Status.REMOVED:
                raise ConflictError(f"only a removed video can be appealed; {video_id} is {status}")
            removal = self._latest_removal(connection, video_id)
            done = connection.execute(
                sa.select(appeals.c.item_id, appeals.c.verdict).where(
                    appeals.c.removal_event_id == removal["event_id"]
                )
            ).first()
            if done is not None:
                raise ConflictError(
                    f"this removal of video {video_id} was appealed already (appeal "
                    f"{done.item_id}, {done.verdict or 'open'}); a removal is appealed once"
                )
            removed_at = video["removed_at"] or removal["occurred_at"]
            closes = removed_at + self._window
            if now > closes:
                raise ConflictError(
                    f"the appeal window of {self._window.days} days closed on "
                    f"{closes.date().isoformat()}"
                )
            scores = connection.scalar(
                sa.select(decisions.c.scores).where(decisions.c.decision_id == video["decision_id"])
            )
            label = removal["label"]
            row = {
                "item_id": f"a{new_hex()}",
                "video_id": video_id,
                "revision": video["revision"],
                "removal_event_id": removal["event_id"],
                "removed_by": removal["actor"],
                "automated": removal["type"] == EventType.AUTO_REMOVED.value,
                "label": label,
                "score": float((scores or {}).get(label, 0.0)) if label else 0.0,
                "language": queue_language(video["language"], self._languages),
                "region": video["region"],
                "statement": statement,
                "state": ItemState.OPEN.value,
                "created_at": now,
                "claims": 0,
            }
            connection.execute(appeals.insert(), row)
            connection.execute(
                videos.update()
                .where(videos.c.video_id == video_id)
                .values(status=Status.APPEALED.value, updated_at=now)
            )
            append_events(
                connection,
                [
                    event_row(
                        video,
                        EventType.APPEAL_SUBMITTED,
                        actor,
                        now,
                        label=label,
                        data={"item_id": row["item_id"], "removal_event_id": removal["event_id"]},
                    )
                ],
            )
            submitted = appeal({**row, **_UNDECIDED})
            return submitted, Effects(queue=[QueueChange(submitted, 0, 0, APPEAL_PRIORITY)])

    def decide(
        self,
        item_id: str,
        holder: str,
        verdict: AppealVerdict,
        note: str | None,
        now: dt.datetime,
    ) -> AppealDecided:
        """Restore the video (live and public again) or uphold its removal."""
        with self._deciding(item_id, holder, now) as (connection, video, row):
            if not row["automated"] and row["removed_by"] == holder:
                raise ConflictError(
                    "the moderator who removed a video may not decide its appeal; release it"
                )
            if verdict is AppealVerdict.RESTORE:
                outcome = Outcome(
                    Status.RESTORED, Visibility.PUBLIC, EventType.RESTORED, "restored"
                )
            else:
                outcome = Outcome(
                    Status.REMOVED, Visibility.REMOVED, EventType.APPEAL_UPHELD, "appeal_upheld"
                )
            decided, state, effects = self._conclude(
                connection,
                video,
                row,
                outcome,
                holder=holder,
                now=now,
                item_values={"verdict": verdict.value, "note": note},
                label=row["label"],
                data={
                    "removal_event_id": row["removal_event_id"],
                    "removed_by": row["removed_by"],
                    "note": note,
                },
                details={"removed_by": "model" if row["automated"] else "human"},
            )
            return AppealDecided(appeal(decided), video_state(state), effects)

    def _latest_removal(self, connection: sa.Connection, video_id: str) -> Mapping[Any, Any]:
        row = connection.execute(
            sa.select(events)
            .where(events.c.video_id == video_id, events.c.type.in_(REMOVALS))
            .order_by(events.c.sequence.desc())
            .limit(1)
        ).one_or_none()
        if row is None:  # a removed video always has its removal event
            raise ConflictError(f"video {video_id} has no removal to appeal")
        return row._mapping


_UNDECIDED = {
    "claimed_by": None,
    "lease_expires_at": None,
    "decided_at": None,
    "decided_by": None,
    "verdict": None,
    "note": None,
}
