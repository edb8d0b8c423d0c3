"""`mizan shadow-report`: the champion against a challenger scored in shadow, on the period's
traffic (every decision with a shadow score of that challenger).

- agreement: the share of videos where both chose the same action, and the full action matrix;
- would-be removals: how many each would have removed;
- on videos a person has since decided (review, appeal, audit; the latest decision of that
  revision wins), precision and recall of each model's removals, and of its flags (removal or
  review). These items are not a random sample: people see what the champion flagged, what
  creators appealed, what users reported, plus the random audits, so recall is measured on
  the violations people found, and the audits are what keeps that honest.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from service.domain import Action
from service.labels import AUDITS, HUMAN_EVENTS, is_violation
from service.tables import decisions, events, shadow_scores

ACTIONS = tuple(action.value for action in Action)


@dataclass(frozen=True, slots=True)
class Compared:
    """One decision: what the champion did, what the challenger would have, what people said."""

    champion: str
    challenger: str
    violation: bool | None  # None: no person has decided this revision


@dataclass(frozen=True, slots=True)
class Quality:
    decided: int
    violations: int
    removals: int  # would-be removals among the decided
    true_removals: int
    flags: int  # removals or reviews among the decided
    true_flags: int

    def to_json(self) -> dict[str, object]:
        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "removal_precision": share(self.true_removals, self.removals),
            "removal_recall": share(self.true_removals, self.violations),
            "flag_precision": share(self.true_flags, self.flags),
            "flag_recall": share(self.true_flags, self.violations),
            "removals": self.removals,
            "true_removals": self.true_removals,
        }


@dataclass(frozen=True, slots=True)
class ShadowComparison:
    champion_versions: tuple[str, ...]
    challenger: str
    videos: int
    agreement: float | None
    matrix: Mapping[tuple[str, str], int]  # (champion action, challenger action) -> videos
    would_remove: Mapping[str, int]  # "champion" / "challenger" -> removals
    human_decided: int
    violations: int
    quality: Mapping[str, Quality]  # "champion" / "challenger"

    def to_json(self) -> dict[str, object]:
        return {
            "champion_versions": list(self.champion_versions),
            "challenger": self.challenger,
            "videos": self.videos,
            "agreement": None if self.agreement is None else round(self.agreement, 4),
            "actions": {f"{a}->{b}": self.matrix.get((a, b), 0) for a in ACTIONS for b in ACTIONS},
            "would_remove": dict(self.would_remove),
            "human_decided": self.human_decided,
            "violations_found": self.violations,
            "quality": {name: q.to_json() for name, q in self.quality.items()},
        }

    def to_text(self) -> str:
        lines = [
            f"challenger {self.challenger} beside champion {', '.join(self.champion_versions)}"
            f" on {self.videos} videos",
            f"agreement on the action: {_percent(self.agreement)}",
            "champion \\ challenger   " + "".join(f"{b:>9}" for b in ACTIONS),
        ]
        for a in ACTIONS:
            cells = "".join(f"{self.matrix.get((a, b), 0):>9}" for b in ACTIONS)
            lines.append(f"{a:<24}{cells}")
        lines.append(
            f"would remove: champion {self.would_remove['champion']}, "
            f"challenger {self.would_remove['challenger']}"
        )
        lines.append(
            f"decided by people since: {self.human_decided} ({self.violations} violations)"
        )
        lines.append(f"{'':<12}{'removal P':>11}{'removal R':>11}{'flag P':>9}{'flag R':>9}")
        for name, quality in self.quality.items():
            q = quality.to_json()
            lines.append(
                f"{name:<12}{_percent(q['removal_precision']):>11}"
                f"{_percent(q['removal_recall']):>11}{_percent(q['flag_precision']):>9}"
                f"{_percent(q['flag_recall']):>9}"
            )
        return "\n".join(lines) + "\n"


def _percent(value: object) -> str:
    return "-" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]


def compare(
    rows: Iterable[Compared], champion_versions: Iterable[str], challenger: str
) -> ShadowComparison:
    compared = list(rows)
    matrix = Counter((row.champion, row.challenger) for row in compared)
    decided = [row for row in compared if row.violation is not None]
    violations = sum(bool(row.violation) for row in decided)

    def quality(pick: str) -> Quality:
        actions = [(getattr(row, pick), bool(row.violation)) for row in decided]
        removals = [truth for action, truth in actions if action == Action.REMOVE.value]
        flags = [truth for action, truth in actions if action != Action.ALLOW.value]
        return Quality(
            len(decided), violations, len(removals), sum(removals), len(flags), sum(flags)
        )

    return ShadowComparison(
        champion_versions=tuple(sorted(set(champion_versions))),
        challenger=challenger,
        videos=len(compared),
        agreement=(
            sum(row.champion == row.challenger for row in compared) / len(compared)
            if compared
            else None
        ),
        matrix=dict(matrix),
        would_remove={
            "champion": sum(row.champion == Action.REMOVE.value for row in compared),
            "challenger": sum(row.challenger == Action.REMOVE.value for row in compared),
        },
        human_decided=len(decided),
        violations=violations,
        quality={"champion": quality("champion"), "challenger": quality("challenger")},
    )


def challengers(engine: sa.Engine, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The versions scored in shadow in [start, end), most scorings first."""
    query = (
        sa.select(shadow_scores.c.model_version, sa.func.count().label("n"))
        .where(shadow_scores.c.scored_at >= start, shadow_scores.c.scored_at < end)
        .group_by(shadow_scores.c.model_version)
        .order_by(sa.desc("n"))
    )
    with engine.connect() as connection:
        return [row.model_version for row in connection.execute(query)]


def shadow_report(
    engine: sa.Engine, start: dt.datetime, end: dt.datetime, challenger: str
) -> ShadowComparison:
    pairs = (
        sa.select(
            decisions.c.video_id,
            decisions.c.revision,
            decisions.c.action.label("champion"),
            decisions.c.model_version,
            shadow_scores.c.action.label("challenger"),
        )
        .join(shadow_scores, shadow_scores.c.decision_id == decisions.c.decision_id)
        .where(
            shadow_scores.c.model_version == challenger,
            shadow_scores.c.scored_at >= start,
            shadow_scores.c.scored_at < end,
        )
    )
    with engine.connect() as connection:
        rows = list(connection.execute(pairs))
        truth = _human_truth(connection, {row.video_id for row in rows})
    return compare(
        (
            Compared(row.champion, row.challenger, truth.get((row.video_id, row.revision)))
            for row in rows
        ),
        (row.model_version for row in rows),
        challenger,
    )


def _human_truth(connection: sa.Connection, video_ids: set[str]) -> dict[tuple[str, int], bool]:
    """The latest person's verdict on each revision of these videos (any time up to now)."""
    truth: dict[tuple[str, int], bool] = {}
    audited: dict[tuple[str, int], bool] = {}  # audit verdicts count where nothing else does
    ids = sorted(video_ids)
    for begin in range(0, len(ids), 500):  # bounded IN lists
        query = (
            sa.select(events.c.video_id, events.c.revision, events.c.type, events.c.data)
            .where(events.c.video_id.in_(ids[begin : begin + 500]))
            .where(events.c.type.in_(HUMAN_EVENTS))
            .order_by(events.c.sequence)
        )
        for row in connection.execute(query):
            decided = audited if row.type in AUDITS else truth
            decided[(row.video_id, row.revision)] = is_violation(row.type, row.data)
    return {**audited, **truth}
