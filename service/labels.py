"""Human-confirmed labels from the decision log, as training data (`mizan export-labels`).

One JSON line per video revision a person decided, in the training-data schema of
../shared/data/moderation/DATASHEET.md (``id, text, labels, lang, source, source_label``), the
latest human outcome winning:

- ``human_removed`` and ``appeal_upheld``: the policy label (hate speech is also harassment,
  as in the training data);
- ``human_approved`` and ``restored``: no label (benign). A restored *automated* removal is a
  known false positive of the model, the most useful kind of example for the next training;
- audits: a confirmed removal or an overturned allow is a violation (the removal's label, the
  auditor's label); a confirmed allow or an overturned removal is benign (the latter another
  known false positive).

The text is the revision's title, description, hashtags and transcript joined by spaces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TextIO

import sqlalchemy as sa

from service.domain import EventType, content_from_canonical
from service.tables import contents, events, videos

HUMAN_OUTCOMES = {
    EventType.HUMAN_REMOVED.value: True,  # a violation
    EventType.APPEAL_UPHELD.value: True,
    EventType.HUMAN_APPROVED.value: False,  # benign
    EventType.RESTORED.value: False,
}
AUDITS = {  # an audit's verdict on what the model did: a violation?
    EventType.AUDIT_CONFIRMED.value: {"remove": True, "allow": False},
    EventType.AUDIT_OVERTURNED.value: {"remove": False, "allow": True},
}
HUMAN_EVENTS = [*HUMAN_OUTCOMES, *AUDITS]


def is_violation(event_type: str, data: Mapping[str, object] | None) -> bool:
    """What a person's decision (event) says of the revision: a violation, or benign."""
    if event_type in AUDITS:
        return AUDITS[event_type][str((data or {}).get("audited_action"))]
    return HUMAN_OUTCOMES[event_type]


def is_false_positive(event_type: str, data: Mapping[str, object] | None) -> bool:
    """A removal by the model that a person undid (appeal restored it, audit overturned it)."""
    removed_by = str((data or {}).get("removed_by", ""))
    if event_type == EventType.RESTORED.value:
        return removed_by.startswith("model:")
    return event_type == EventType.AUDIT_OVERTURNED.value and not is_violation(event_type, data)


IMPLIED = {"hate_speech": ("hate_speech", "harassment")}  # every hate row is harassment too


@dataclass(frozen=True, slots=True)
class LabeledRevision:
    id: str
    text: str
    labels: tuple[str, ...]
    lang: str
    source_label: str
    false_positive: bool  # a restored automated removal

    def to_json(self) -> str:
        row = {
            "id": self.id,
            "text": self.text,
            "labels": list(self.labels),
            "lang": self.lang,
            "source": "mizan",
            "source_label": self.source_label,
        }
        return json.dumps(row, ensure_ascii=False)


def human_labels(engine: sa.Engine) -> Iterator[LabeledRevision]:
    """The latest human outcome of every decided revision (reviews and appeals before audit
    verdicts, see below)."""
    query = (
        sa.select(
            events.c.video_id,
            events.c.revision,
            events.c.type,
            events.c.label,
            events.c.data,
            videos.c.language,
            contents.c.content,
        )
        .join(videos, videos.c.video_id == events.c.video_id)
        .join(
            contents,
            sa.and_(
                contents.c.video_id == events.c.video_id,
                contents.c.revision == events.c.revision,
            ),
        )
        .where(events.c.type.in_(HUMAN_EVENTS))
        .order_by(events.c.sequence)
    )
    latest: dict[tuple[str, int], LabeledRevision] = {}
    audited: dict[tuple[str, int], LabeledRevision] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            violation = is_violation(row.type, row.data)
            labels = IMPLIED.get(row.label, (row.label,)) if violation and row.label else ()
            decided = audited if row.type in AUDITS else latest
            decided[(row.video_id, row.revision)] = LabeledRevision(
                id=f"mizan:{row.video_id}:{row.revision}",
                text=_text(row.content),
                labels=tuple(labels),
                lang=row.language,
                source_label=row.type,
                false_positive=is_false_positive(row.type, row.data),
            )
    # a review's or an appeal's outcome is what stands; an audit verdict labels a revision
    # only where no such outcome exists (one that could not be applied does not overrule it)
    yield from latest.values()
    yield from (labeled for key, labeled in audited.items() if key not in latest)


def export(engine: sa.Engine, sink: TextIO) -> dict[str, int]:
    counts = {"examples": 0, "violations": 0, "benign": 0, "false_positives": 0}
    for labeled in human_labels(engine):
        sink.write(labeled.to_json() + "\n")
        counts["examples"] += 1
        counts["violations" if labeled.labels else "benign"] += 1
        counts["false_positives"] += labeled.false_positive
    return counts


def _text(canonical_content: str) -> str:
    video = content_from_canonical(canonical_content)
    transcript = video.transcript
    spoken = transcript if isinstance(transcript, str) else " ".join(s.text for s in transcript)
    parts = [video.title, video.description, " ".join(video.hashtags), spoken]
    return " ".join(part for part in parts if part.strip())
