"""Audits of automation in the decision log: a sample of the model's removals and allows,
opened in the scoring transaction, worked under a lease like review items
(service/leased_log.py), and decided (confirm or overturn) in one transaction.

An overturn acts when the video is still as the model left it (the same revision, and no
person has acted on it: no review, report, appeal or restoration since): a removal still
standing is restored (``audit_overturned``, status restored, webhook "restored"); an allowed
video still live is removed by the auditor (``human_removed``, webhook "removed"). A video that
moved on is left to that process and the verdict is only recorded (``applied`` false), so an
audit never undoes a person's decision. Either way the verdict counts in the measured precision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from review_queue import Priority, queue_language
from service.creators import Enforcement
from service.domain import (
    Action,
    AuditItem,
    AuditVerdict,
    EventType,
    ItemState,
    Status,
    VideoState,
    Visibility,
)
from service.effects import Effects, QueueChange
from service.ids import new_hex
from service.leased_log import LeasedLog, Outcome
from service.log_rows import audit_item, event_row, video_state
from service.rollups import removal_facts
from service.tables import audits, events

AUDIT_PRIORITY = Priority.NORMAL  # audits are worked oldest first
AUDITED = (Action.REMOVE, Action.ALLOW)  # review decisions are made by people already
# Events by which a person (or a report) took a revision out of the model's hands: an overturn
# then only records its verdict, so it never undoes a moderator's or an appeal's decision.
PEOPLE = [
    EventType.QUEUED_FOR_REVIEW.value,
    EventType.HUMAN_REMOVED.value,
    EventType.HUMAN_APPROVED.value,
    EventType.APPEAL_SUBMITTED.value,
    EventType.APPEAL_UPHELD.value,
    EventType.RESTORED.value,
]


def _people_acted(connection: sa.Connection, video_id: str, revision: int) -> bool:
    found = connection.execute(
        sa.select(events.c.sequence)
        .where(
            events.c.video_id == video_id,
            events.c.revision == revision,
            events.c.type.in_(PEOPLE),
        )
        .limit(1)
    ).first()
    return found is not None


def open_audit(
    connection: sa.Connection,
    video: Mapping[str, Any],
    decision: Mapping[str, Any],
    languages: Sequence[str],
    now: dt.datetime,
) -> AuditItem:
    """Open the audit of one model decision (``decision``: a decisions row's values)."""
    scores: Mapping[str, float] = decision["scores"]
    label = decision["label"] or (max(scores, key=lambda name: scores[name]) if scores else None)
    row = {
        "item_id": f"a{new_hex()}",
        "video_id": video["video_id"],
        "revision": decision["revision"],
        "decision_id": decision["decision_id"],
        "action": decision["action"],
        "label": label,
        "score": float(scores[label]) if label else 0.0,
        "model_version": decision["model_version"],
        "language": queue_language(video["language"], languages),
        "region": video["region"],
        "state": ItemState.OPEN.value,
        "created_at": now,
        "claims": 0,
    }
    connection.execute(_INSERT_AUDIT, row)
    return audit_item({**row, **_UNSET})


_INSERT_AUDIT = audits.insert()
_UNSET = {
    "claimed_by": None,
    "lease_expires_at": None,
    "decided_at": None,
    "decided_by": None,
    "verdict": None,
    "decided_label": None,
    "note": None,
    "applied": None,
}


@dataclass(frozen=True, slots=True)
class AuditDecided:
    item: AuditItem
    video: VideoState
    effects: Effects


class AuditLog(LeasedLog[AuditItem]):
    def __init__(
        self, engine: sa.Engine, *, webhooks: bool = False, enforcement: Enforcement | None = None
    ) -> None:
        super().__init__(
            engine, audits, audit_item, "audit", webhooks=webhooks, enforcement=enforcement
        )

    def open_items(self) -> list[QueueChange]:
        query = (
            sa.select(audits)
            .where(audits.c.state == ItemState.OPEN.value)
            .order_by(audits.c.created_at)
        )
        with self._engine.connect() as connection:
            return [
                QueueChange(audit_item(row._mapping), 0, 0, AUDIT_PRIORITY)
                for row in connection.execute(query)
            ]

    def decide(
        self,
        item_id: str,
        holder: str,
        verdict: AuditVerdict,
        label: str | None,
        note: str | None,
        now: dt.datetime,
    ) -> AuditDecided:
        with self._deciding(item_id, holder, now) as (connection, video, row):
            audited = Action(row["action"])
            # as the model left it: the same revision, and no person has acted on it since
            untouched = video["revision"] == row["revision"] and not _people_acted(
                connection, row["video_id"], row["revision"]
            )
            data: dict[str, object] = {
                "audited_action": audited.value,
                "verdict": verdict.value,
                "note": note,
                "model_version": row["model_version"],
            }
            unchanged = Outcome(
                Status(video["status"]),
                Visibility(video["visibility"]),
                EventType.AUDIT_CONFIRMED
                if verdict is AuditVerdict.CONFIRM
                else EventType.AUDIT_OVERTURNED,
                "audited",
                announce=False,
            )
            outcome, applied = unchanged, False
            if verdict is AuditVerdict.OVERTURN and untouched:
                if audited is Action.REMOVE and video["status"] == Status.REMOVED.value:
                    outcome, applied = (
                        Outcome(
                            Status.RESTORED,
                            Visibility.PUBLIC,
                            EventType.AUDIT_OVERTURNED,
                            "restored",
                        ),
                        True,
                    )
                elif audited is Action.ALLOW and video["status"] == Status.LIVE.value:
                    outcome, applied = (
                        Outcome(
                            Status.REMOVED,
                            Visibility.REMOVED,
                            EventType.HUMAN_REMOVED,
                            "removed",
                            {"removed_at": now, "views_at_removal": video["views"], "label": label},
                        ),
                        True,
                    )
                    data |= removal_facts(video["views"], video["uploaded_at"], video["reports"])
                    # for the statement of reasons: found by a random audit, not by the model
                    data |= {"reason": "audit", "policy_version": video["policy_version"]}
            data["applied"] = applied
            decided, state, effects = self._conclude(
                connection,
                video,
                row,
                outcome,
                holder=holder,
                now=now,
                item_values={
                    "verdict": verdict.value,
                    "decided_label": label,
                    "note": note,
                    "applied": applied if verdict is AuditVerdict.OVERTURN else False,
                },
                label=label or row["label"],  # an overturned allow: the label broken
                data=data,
                details={"audit": True},
            )
            return AuditDecided(audit_item(decided), video_state(state), effects)


def sampled_event(video: Mapping[str, Any], item: AuditItem, now: dt.datetime) -> dict[str, object]:
    return event_row(
        video,
        EventType.AUDIT_SAMPLED,
        "audit",
        now,
        item.label,
        item.revision,
        {"item_id": item.item_id, "audited_action": item.action.value},
    )
