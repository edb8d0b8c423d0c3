"""Creators: the notice of every enforcement, strikes, and the account actions they lead to.

Written in the transaction of the event that causes them (service/decision_log.py,
service/leased_log.py call `Enforcement.after`), so a removal, its notice, its strike and any
account action are logged together or not at all:

- a removal (automated or by a person) writes a removal notice and a strike that stays active
  for the policy's window (90 days); if the creator's active strikes then reach a row of the
  policy's ``[[strikes.actions]]``, that account action is taken (a warning, an upload
  restriction for some days, a ban) unless the same action is still in force: an
  ``account_actioned`` event and an ``account_action`` webhook;
- a restoration (appeal, or an audit that overturned the removal) writes a restoration notice,
  takes the removal's strike back and lifts every account action that strike caused
  (``account_action_lifted``);
- an upheld appeal writes a notice; its strike stands.

Strikes expire by time alone: "active" is always computed against the clock, so nothing has
to run when one expires.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from service.domain import EventType
from service.guidelines import Catalogue
from service.ids import new_hex, new_uuid
from service.log_rows import append_events, event_row
from service.outbox import add_delivery
from service.strike_policy import AccountAction, StrikePolicy
from service.tables import account_actions, decisions, notices, strikes, videos


class NoticeKind(enum.StrEnum):
    REMOVAL = "removal"
    RESTORATION = "restoration"
    APPEAL_UPHELD = "appeal_upheld"


@dataclass
class Enforced:
    """What an enforcement event led to: the notice (for its webhook) and the webhooks of any
    account actions taken or lifted."""

    notice: dict[str, object] | None = None
    deliveries: list[str] = field(default_factory=list)


REMOVALS = {EventType.AUTO_REMOVED.value, EventType.HUMAN_REMOVED.value}


def notice_kind(event: Mapping[str, Any]) -> NoticeKind | None:
    kind = event["type"]
    data = event["data"] or {}
    if kind in REMOVALS:
        return NoticeKind.REMOVAL
    if kind == EventType.RESTORED.value:
        return NoticeKind.RESTORATION
    if kind == EventType.AUDIT_OVERTURNED.value and data.get("applied"):
        return NoticeKind.RESTORATION  # an applied overturn of a removal restores the video
    if kind == EventType.APPEAL_UPHELD.value:
        return NoticeKind.APPEAL_UPHELD
    return None


class Enforcement:
    def __init__(
        self,
        catalogue: Catalogue,
        strike_policy: StrikePolicy,
        *,
        appeal_window: dt.timedelta,
        webhooks: bool = False,
    ) -> None:
        self._catalogue = catalogue
        self._strikes = strike_policy
        self._appeal_window = appeal_window
        self._webhooks = webhooks

    def after(
        self,
        connection: sa.Connection,
        event: Mapping[str, Any],
        creator_id: str,
        now: dt.datetime,
    ) -> Enforced:
        """The consequences of ``event`` (an events row as written) for its creator."""
        kind = notice_kind(event)
        enforced = Enforced()
        if kind is None:
            return enforced
        if kind is NoticeKind.REMOVAL:
            strike_id = self._add_strike(connection, event, creator_id, now)
            enforced.deliveries += self._take_actions(connection, event, creator_id, strike_id, now)
        elif kind is NoticeKind.RESTORATION:
            enforced.deliveries += self._take_back(connection, event, creator_id, now)
        enforced.notice = self._notice(connection, event, creator_id, kind, now)
        return enforced

    # notices -------------------------------------------------------------------------------

    def _notice(
        self,
        connection: sa.Connection,
        event: Mapping[str, Any],
        creator_id: str,
        kind: NoticeKind,
        now: dt.datetime,
    ) -> dict[str, object]:
        words = self._catalogue.for_language(event["language"])
        label = event["label"]
        guideline = words.labels.get(label) if label else None
        machine = event["type"] == EventType.AUTO_REMOVED.value
        deadline = now + self._appeal_window if kind is NoticeKind.REMOVAL else None
        body: dict[str, object] = {
            "notice_id": new_uuid(),
            "kind": kind.value,
            "video_id": event["video_id"],
            "creator_id": creator_id,
            "event_id": event["event_id"],
            "language": words.language,
            "direction": words.direction,
            "headline": words.sentences[kind.value],
            "guideline": None
            if guideline is None
            else {
                "label": label,
                "area": guideline.area,
                "summary": guideline.summary,
                "what_you_can_do": guideline.what_you_can_do,
            },
            "evidence": _evidence(connection, event)
            if kind is not NoticeKind.RESTORATION
            else None,
            "decided_by": "machine" if machine else "person",
            "decided_by_text": words.sentences[
                "decided_by_machine" if machine else "decided_by_person"
            ],
            "appeal_deadline": deadline.isoformat() if deadline else None,
            "appeal_until_text": words.sentences["appeal_until"] if deadline else None,
            "issued_at": now.isoformat(),
        }
        connection.execute(
            _INSERT_NOTICE,
            {
                "notice_id": body["notice_id"],
                "creator_id": creator_id,
                "video_id": event["video_id"],
                "event_id": event["event_id"],
                "kind": kind.value,
                "language": words.language,
                "body": body,
                "issued_at": now,
            },
        )
        return body

    # strikes and account actions -----------------------------------------------------------

    def _add_strike(
        self, connection: sa.Connection, event: Mapping[str, Any], creator_id: str, now: dt.datetime
    ) -> str:
        strike_id = f"s{new_hex()}"
        connection.execute(
            _INSERT_STRIKE,
            {
                "strike_id": strike_id,
                "creator_id": creator_id,
                "video_id": event["video_id"],
                "removal_event_id": event["event_id"],
                "label": event["label"],
                "region": event["region"],
                "issued_at": now,
                "expires_at": now + self._strikes.window,
                "removed_at": None,
                "removed_by_event_id": None,
            },
        )
        return strike_id

    def _take_actions(
        self,
        connection: sa.Connection,
        event: Mapping[str, Any],
        creator_id: str,
        strike_id: str,
        now: dt.datetime,
    ) -> list[str]:
        if not self._strikes.thresholds:
            return []
        highest = self._strikes.thresholds[-1].strikes
        active = active_strike_count(connection, creator_id, now, cap=highest + 1)
        deliveries = []
        for threshold in self._strikes.thresholds:
            if threshold.strikes != active or _in_force(
                connection, creator_id, threshold.action, now
            ):
                continue
            action_id = f"x{new_hex()}"
            ends_at = now + dt.timedelta(days=threshold.days) if threshold.days else None
            connection.execute(
                account_actions.insert().values(
                    action_id=action_id,
                    creator_id=creator_id,
                    action=threshold.action.value,
                    strikes=active,
                    strike_id=strike_id,
                    video_id=event["video_id"],
                    region=event["region"],
                    started_at=now,
                    ends_at=ends_at,
                )
            )
            details = {
                "creator_id": creator_id,
                "action": threshold.action.value,
                "action_id": action_id,
                "strikes": active,
                "ends_at": ends_at.isoformat() if ends_at else None,
            }
            deliveries += self._log(
                connection, event, EventType.ACCOUNT_ACTIONED, "account_action", details, now
            )
        return deliveries

    def _take_back(
        self, connection: sa.Connection, event: Mapping[str, Any], creator_id: str, now: dt.datetime
    ) -> list[str]:
        """A restoration takes back the video's standing strike and lifts what it caused."""
        strike = connection.execute(
            sa.select(strikes.c.strike_id)
            .where(strikes.c.video_id == event["video_id"], strikes.c.removed_at.is_(None))
            .order_by(strikes.c.issued_at.desc())
            .limit(1)
        ).first()
        if strike is None:
            return []
        connection.execute(
            strikes.update()
            .where(strikes.c.strike_id == strike.strike_id)
            .values(removed_at=now, removed_by_event_id=event["event_id"])
        )
        caused = connection.execute(
            sa.select(account_actions).where(
                account_actions.c.strike_id == strike.strike_id,
                account_actions.c.lifted_at.is_(None),
            )
        ).all()
        deliveries = []
        for action in caused:
            connection.execute(
                account_actions.update()
                .where(account_actions.c.action_id == action.action_id)
                .values(lifted_at=now, lifted_by_event_id=event["event_id"])
            )
            details = {
                "creator_id": creator_id,
                "action": action.action,
                "action_id": action.action_id,
                "reason": "the removal that caused it was restored",
            }
            deliveries += self._log(
                connection,
                event,
                EventType.ACCOUNT_ACTION_LIFTED,
                "account_action_lifted",
                details,
                now,
            )
        return deliveries

    def _log(
        self,
        connection: sa.Connection,
        cause: Mapping[str, Any],
        kind: EventType,
        webhook: str,
        details: Mapping[str, object],
        now: dt.datetime,
    ) -> list[str]:
        row = event_row(cause, kind, "strikes", now, cause["label"], cause["revision"], details)
        append_events(connection, [row])
        return [add_delivery(connection, row, webhook, dict(details))] if self._webhooks else []


def _evidence(connection: sa.Connection, event: Mapping[str, Any]) -> dict[str, object] | None:
    """The text shown to the creator: the decision's evidence for the removal's label (where,
    and the words), never the scores."""
    found = connection.scalar(
        _EVIDENCE, {"video_id": event["video_id"], "revision": event["revision"]}
    )
    items: Sequence[Mapping[str, Any]] = found or []
    chosen = next((e for e in items if e.get("label") == event["label"]), None)
    if chosen is None:
        return None
    return {
        "field": chosen.get("field"),
        "start_s": chosen.get("start_s"),
        "end_s": chosen.get("end_s"),
        "text": chosen.get("text"),
    }


def _active(now: dt.datetime) -> Any:
    return sa.and_(
        strikes.c.removed_at.is_(None), strikes.c.issued_at <= now, strikes.c.expires_at > now
    )


def active_strike_count(
    connection: sa.Connection, creator_id: str, now: dt.datetime, cap: int
) -> int:
    """The creator's active strikes, counted up to ``cap`` at most: past the last threshold
    the exact number changes nothing, and an account that keeps uploading removed videos
    must not make each removal slower than the last."""
    params = {"creator_id": creator_id, "now": now, "cap": cap}
    return int(connection.scalar(_ACTIVE_STRIKES, params) or 0)


def _in_force(
    connection: sa.Connection, creator_id: str, action: AccountAction, now: dt.datetime
) -> bool:
    return (
        connection.execute(
            sa.select(account_actions.c.action_id).where(
                account_actions.c.creator_id == creator_id,
                account_actions.c.action == action.value,
                account_actions.c.lifted_at.is_(None),
                sa.or_(account_actions.c.ends_at.is_(None), account_actions.c.ends_at > now),
            )
        ).first()
        is not None
    )


@dataclass(frozen=True, slots=True)
class CreatorRecord:
    creator_id: str
    active_strikes: list[dict[str, Any]]
    strikes: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    notices: list[dict[str, Any]]

    @property
    def banned(self) -> bool:
        return any(a["in_force"] and a["action"] == AccountAction.BAN for a in self.actions)

    @property
    def upload_restricted_until(self) -> dt.datetime | None:
        ends = [
            a["ends_at"]
            for a in self.actions
            if a["in_force"] and a["action"] == AccountAction.UPLOAD_RESTRICTION
        ]
        return max(ends) if ends else None


def creator_record(
    engine: sa.Engine, creator_id: str, now: dt.datetime, notices_limit: int = 100
) -> CreatorRecord:
    """Everything about one creator's standing: strikes (active ones apart), account actions
    (each with whether it is in force now), the latest notices."""
    with engine.connect() as connection:
        all_strikes = [
            dict(row._mapping)
            for row in connection.execute(
                sa.select(strikes)
                .where(strikes.c.creator_id == creator_id)
                .order_by(strikes.c.issued_at)
            )
        ]
        actions = []
        for row in connection.execute(
            sa.select(account_actions)
            .where(account_actions.c.creator_id == creator_id)
            .order_by(account_actions.c.started_at)
        ):
            action = dict(row._mapping)
            action["in_force"] = action["lifted_at"] is None and (
                action["ends_at"] is None or action["ends_at"] > now
            )
            actions.append(action)
        latest = [
            dict(row.body)
            for row in connection.execute(
                sa.select(notices.c.body)
                .where(notices.c.creator_id == creator_id)
                .order_by(notices.c.issued_at.desc())
                .limit(notices_limit)
            )
        ]
    active = [
        s
        for s in all_strikes
        if s["removed_at"] is None and s["issued_at"] <= now < s["expires_at"]
    ]
    return CreatorRecord(creator_id, active, all_strikes, actions, latest)


def notices_of_video(engine: sa.Engine, video_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [
            dict(row.body)
            for row in connection.execute(
                sa.select(notices.c.body)
                .where(notices.c.video_id == video_id)
                .order_by(notices.c.issued_at)
            )
        ]


class Creators:
    """The reads about creators, on the service's clock (strikes are active against it)."""

    def __init__(
        self, engine: sa.Engine, clock: Callable[[], dt.datetime], strike_policy: StrikePolicy
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.strike_policy = strike_policy

    def record(self, creator_id: str) -> CreatorRecord:
        return creator_record(self._engine, creator_id, self._clock())

    def notices_of(self, video_id: str) -> list[dict[str, Any]]:
        return notices_of_video(self._engine, video_id)

    def known(self, creator_id: str) -> bool:
        """Whether any video of this creator was ever scored."""
        with self._engine.connect() as connection:
            found = connection.execute(
                sa.select(videos.c.video_id).where(videos.c.creator_id == creator_id).limit(1)
            ).first()
        return found is not None


# Statements built once: building them anew for every removal cost more than running them.
_INSERT_NOTICE = notices.insert()
_INSERT_STRIKE = strikes.insert()
_EVIDENCE = sa.select(decisions.c.evidence).where(
    decisions.c.video_id == sa.bindparam("video_id"),
    decisions.c.revision == sa.bindparam("revision"),
)
_ACTIVE_STRIKES = sa.select(sa.func.count()).select_from(
    sa.select(strikes.c.strike_id)
    .where(
        strikes.c.creator_id == sa.bindparam("creator_id"),
        strikes.c.removed_at.is_(None),
        strikes.c.issued_at <= sa.bindparam("now"),
        strikes.c.expires_at > sa.bindparam("now"),
    )
    .limit(sa.bindparam("cap"))
    .subquery()
)
