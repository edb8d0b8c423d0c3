"""Statements of reasons for the EU DSA Transparency Database: one per removal in a period.

Fields follow the database's API (https://transparency.dsa.ec.europa.eu/page/api-documentation).
A removal under our Community Guidelines is `DECISION_GROUND_INCOMPATIBLE_CONTENT`; its category
and keyword come from the policy file (`dsa_category`, `dsa_keyword` per label). Who found it and
who decided:

- by the model at upload: detection Yes, AUTOMATED_DECISION_FULLY, SOURCE_VOLUNTARY;
- by a person, the model flagged it: Yes, AUTOMATED_DECISION_PARTIALLY, SOURCE_VOLUNTARY;
- by a person, after user reports: No, AUTOMATED_DECISION_NOT_AUTOMATED,
  SOURCE_TYPE_OTHER_NOTIFICATION (a user's report is a notice).

A removal takes a video down everywhere, so its territorial scope is all 30 EEA countries. A
decision limited to regions outside the EEA would get no statement; the export counts what it
leaves out and why (none today: every removal is global).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from service.policy import Policy
from service.regions import EEA
from service.report import Period
from service.tables import events, videos

REMOVALS = ("auto_removed", "human_removed")
DEFAULT_CATEGORY = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"


@dataclass
class SorExport:
    statements: int = 0
    left_out: dict[str, int] = field(default_factory=dict)


def statements_of_reasons(
    engine: sa.Engine, policy: Policy, period: Period, export: SorExport | None = None
) -> Iterator[dict[str, object]]:
    """Yield the statements of the period's removals, oldest first; counts go to ``export``."""
    export = export if export is not None else SorExport()
    start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), dt.UTC)
    query = (
        sa.select(events, videos.c.uploaded_at, videos.c.language.label("video_language"))
        .join(videos, videos.c.video_id == events.c.video_id)
        .where(
            events.c.type.in_(REMOVALS),
            events.c.occurred_at >= start,
            events.c.occurred_at < end,
        )
        .order_by(events.c.sequence)
    )
    with engine.connect() as connection:
        for row in connection.execute(query).mappings():
            export.statements += 1
            yield statement(dict(row), policy)


def statement(row: Mapping[str, Any], policy: Policy) -> dict[str, object]:
    """One removal event (with its video's upload time and language) as a statement. A
    person's removal records why the item reached them (``reason``: model, report or audit)."""
    label = row["label"]
    rules = policy.labels.get(label) if label else None
    area = rules.area if rules else "our Community Guidelines"
    data = row["data"] or {}
    reason = data.get("reason")
    version = str(data.get("policy_version") or policy.version)
    by_model = row["type"] == "auto_removed"
    reported = reason == "report"
    if by_model:
        detection, decision, source = "Yes", "AUTOMATED_DECISION_FULLY", "SOURCE_VOLUNTARY"
        who = f"automatically, by the classifier {row['actor'].removeprefix('model:')}"
    elif reported:
        detection, decision = "No", "AUTOMATED_DECISION_NOT_AUTOMATED"
        source = "SOURCE_TYPE_OTHER_NOTIFICATION"
        who = "by a moderator, after reports from users"
    elif reason == "audit":  # the classifier allowed it; a random audit of its decisions found it
        detection, decision, source = "No", "AUTOMATED_DECISION_NOT_AUTOMATED", "SOURCE_VOLUNTARY"
        who = "by a moderator, in a random audit of videos the classifier had allowed"
    else:
        detection, decision, source = "Yes", "AUTOMATED_DECISION_PARTIALLY", "SOURCE_VOLUNTARY"
        who = "by a moderator, after the classifier flagged it for review"
    out: dict[str, object] = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": f"Community Guidelines {version}: {area}",
        "incompatible_content_explanation": (
            f"The video's title, description, hashtags or spoken words break the {area} guideline."
        ),
        "incompatible_content_illegal": "No",
        "category": rules.dsa_category if rules else DEFAULT_CATEGORY,
        "content_type": ["CONTENT_TYPE_VIDEO"],
        "content_date": row["uploaded_at"].date().isoformat(),
        "application_date": row["occurred_at"].date().isoformat(),
        "territorial_scope": sorted(EEA),
        "decision_facts": f"The video was removed {who}, under the {area} guideline.",
        "source_type": source,
        "automated_detection": detection,
        "automated_decision": decision,
        "puid": f"mizan-{row['event_id']}",
    }
    if rules and rules.dsa_keyword:
        out["category_specification"] = [rules.dsa_keyword]
    language = str(row["video_language"] or "").split("-")[0]
    if len(language) == 2:
        out["content_language"] = language.upper()
    return out
