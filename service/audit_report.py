"""What the audits measure: per policy label, the precision of automated removal (the share of
audited automated removals an auditor confirmed), and the share of audited allowed videos an
auditor found violating (what automation let through), each with a 95% Wilson interval, since
a 1% sample of a label's removals may be small.

Counted over audits decided in the period, by the label of the decision audited: a removal's
label, and for an allow the model's top-scoring label (the label an auditor names for an
overturned allow goes on the removal it makes, and into the training labels).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from service.domain import Action, AuditVerdict, ItemState
from service.tables import audits

Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class Measured:
    audited: int
    hits: int  # removals: confirmed; allows: found violating

    @property
    def share(self) -> float | None:
        return self.hits / self.audited if self.audited else None

    def interval(self) -> tuple[float, float] | None:
        """95% Wilson score interval of the share."""
        if not self.audited:
            return None
        n, p = self.audited, self.hits / self.audited
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def to_json(self) -> dict[str, object]:
        interval = self.interval()
        return {
            "audited": self.audited,
            "hits": self.hits,
            "share": None if self.share is None else round(self.share, 4),
            "ci95": None if interval is None else [round(interval[0], 4), round(interval[1], 4)],
        }


@dataclass(frozen=True, slots=True)
class AuditFigures:
    removal_precision: Mapping[str, Measured]  # label -> confirmed / audited removals
    allowed_violating: Mapping[str, Measured]  # label -> found violating / audited allows
    open_audits: int

    def to_json(self) -> dict[str, object]:
        return {
            "automated_removal_precision": {
                label: m.to_json() for label, m in sorted(self.removal_precision.items())
            },
            "allowed_found_violating": {
                label: m.to_json() for label, m in sorted(self.allowed_violating.items())
            },
            "open_audits": self.open_audits,
        }


@dataclass(frozen=True, slots=True)
class DecidedAudit:
    action: Action
    label: str | None
    verdict: AuditVerdict
    decided_label: str | None


def measure(decided: Iterable[DecidedAudit], open_audits: int = 0) -> AuditFigures:
    removals: dict[str, list[int]] = {}
    allows: dict[str, list[int]] = {}
    for audit in decided:
        wrong = audit.verdict is AuditVerdict.OVERTURN
        if audit.action is Action.REMOVE:
            tally = removals.setdefault(audit.label or "none", [0, 0])
            tally[0] += 1
            tally[1] += not wrong
        else:  # keyed by the model's top label: the same population above and below the line
            tally = allows.setdefault(audit.label or "none", [0, 0])
            tally[0] += 1
            tally[1] += wrong
    return AuditFigures(
        {label: Measured(n, hits) for label, (n, hits) in removals.items()},
        {label: Measured(n, hits) for label, (n, hits) in allows.items()},
        open_audits,
    )


def audit_figures(
    engine: sa.Engine, start: dt.datetime, end: dt.datetime, region: str | None = None
) -> AuditFigures:
    """The audits decided in [start, end) (of one region, when given)."""
    query = sa.select(audits.c.action, audits.c.label, audits.c.verdict, audits.c.decided_label)
    query = query.where(
        audits.c.state == ItemState.DECIDED.value,
        audits.c.decided_at >= start,
        audits.c.decided_at < end,
    )
    waiting = (
        sa.select(sa.func.count()).select_from(audits).where(audits.c.state == ItemState.OPEN.value)
    )
    if region is not None:
        query = query.where(audits.c.region == region)
        waiting = waiting.where(audits.c.region == region)
    with engine.connect() as connection:
        rows = [
            DecidedAudit(Action(r.action), r.label, AuditVerdict(r.verdict), r.decided_label)
            for r in connection.execute(query)
        ]
        open_audits = int(connection.scalar(waiting) or 0)
    return measure(rows, open_audits)
