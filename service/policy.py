"""The policy: from a video's scores to an action, under a versioned policy file.

Rules (DESIGN.md section 5):
- a label that allows auto-removal removes when its score reaches its remove threshold;
- otherwise a label sends the video to review when its score reaches its review threshold,
  or its remove threshold where auto-removal is not allowed (misinformation);
- the video's action is the most severe over labels (remove > review > allow); the deciding
  label is the one furthest past its threshold for that action.

Thresholds: the model card's (length-aware: for a video scored on k texts, the card's row for
k), then the policy file's per-label values, then its per-region values, each overriding the
last. Every decision records the thresholds it used.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from classifier import ModelCard, Thresholds
from service.domain import Action
from service.errors import ConfigurationError
from service.guidelines import Catalogue, LabelGuideline, LanguageGuidelines
from service.strike_policy import StrikePolicy

PLAIN_ENGLISH = {
    "removal": "Your video was removed because it breaks our Community Guidelines.",
    "restoration": "Your video is public again.",
    "appeal_upheld": "We reviewed your appeal and the removal stands.",
    "decided_by_machine": "Decided automatically by our systems.",
    "decided_by_person": "Decided by a member of our safety team.",
    "appeal_until": "You can appeal until",
    "what_you_can_do": "Edit your video and upload it again, or appeal.",
}


@dataclass(frozen=True, slots=True)
class LabelPolicy:
    area: str
    auto_remove: bool
    remove: float | None = None  # overrides the card when set
    review: float | None = None
    # The EU DSA Transparency Database's category (and keyword) for a removal under this label
    dsa_category: str = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    dsa_keyword: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    labels: Mapping[str, LabelPolicy]
    regions: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    guidelines: Catalogue | None = None  # None: English notices from the areas (see load)
    strikes: StrikePolicy = field(default_factory=lambda: StrikePolicy(dt.timedelta(days=90), ()))

    @property
    def catalogue(self) -> Catalogue:
        """The guidelines creators read; a policy file without them gets plain English
        notices naming each label's area (write a catalogue before going live)."""
        if self.guidelines is not None:
            return self.guidelines
        english = LanguageGuidelines(
            "en",
            PLAIN_ENGLISH,
            {
                name: LabelGuideline(entry.area, entry.area, PLAIN_ENGLISH["what_you_can_do"])
                for name, entry in self.labels.items()
            },
        )
        return Catalogue({"en": english})

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            body = tomllib.loads(path.read_text(encoding="utf-8"))
            labels = {
                name: LabelPolicy(
                    area=str(entry["area"]),
                    auto_remove=bool(entry["auto_remove"]),
                    remove=_threshold(entry.get("remove")),
                    review=_threshold(entry.get("review")),
                    dsa_category=str(
                        entry.get("dsa_category", "STATEMENT_CATEGORY_OTHER_VIOLATION_TC")
                    ),
                    dsa_keyword=entry.get("dsa_keyword"),
                )
                for name, entry in body["labels"].items()
            }
            regions = {
                region.upper(): {
                    label: {key: float(value) for key, value in values.items()}
                    for label, values in per_label.items()
                }
                for region, per_label in body.get("regions", {}).items()
            }
            guidelines = (
                Catalogue.parse(body["guidelines"], list(labels), str(path))
                if "guidelines" in body
                else None
            )
            policy = cls(
                version=str(body["version"]),
                labels=labels,
                regions=regions,
                guidelines=guidelines,
                strikes=StrikePolicy.parse(body.get("strikes", {}), str(path)),
            )
        except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"policy file {path}: {exc}") from exc
        for region, per_label in regions.items():
            for label, values in per_label.items():
                if label not in labels or set(values) - {"remove", "review"}:
                    raise ConfigurationError(
                        f"policy file {path}: region {region} overrides unknown {label}/{values}"
                    )
        return policy

    def check_covers(self, card: ModelCard) -> None:
        missing = set(card.labels) - set(self.labels)
        if missing:
            raise ConfigurationError(
                f"policy {self.version} has no entry for model {card.version}'s labels {missing}"
            )


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    action: Action
    label: str | None
    thresholds: Mapping[str, Mapping[str, float | None]]


def _threshold(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"threshold {number} outside 0..1")
    return number


def thresholds_for(
    policy: Policy, card: ModelCard, label: str, region: str, texts: int, length_aware: bool
) -> Thresholds:
    base = card.thresholds_for(label, texts) if length_aware else card.thresholds[label]
    entry = policy.labels[label]
    remove = entry.remove if entry.remove is not None else base.remove
    review = entry.review if entry.review is not None else base.review
    override = policy.regions.get(region, {}).get(label, {})
    return Thresholds(remove=override.get("remove", remove), review=override.get("review", review))


def decide(
    scores: Mapping[str, float],
    texts: int,
    region: str,
    policy: Policy,
    card: ModelCard,
    *,
    length_aware: bool = True,
) -> PolicyDecision:
    """Pure: the same scores, policy, card and region always give the same decision."""
    rules, used = _rules(policy, card, region, texts, length_aware)
    best: dict[Action, tuple[float, str]] = {}
    for label, t in rules:
        score = scores[label]
        for action, threshold in ((Action.REMOVE, t.remove), (Action.REVIEW, t.review)):
            if threshold is not None and score >= threshold:
                margin = score - threshold
                if action not in best or margin > best[action][0]:
                    best[action] = (margin, label)
                break
    thresholds = {label: dict(pair) for label, pair in used.items()}  # this decision's own
    for action in (Action.REMOVE, Action.REVIEW):
        if action in best:
            return PolicyDecision(action, best[action][1], thresholds)
    return PolicyDecision(Action.ALLOW, None, thresholds)


_Rules = tuple[tuple[str, Thresholds], ...]  # each label's thresholds as applied
_Used = dict[str, dict[str, float | None]]  # and as a decision records them
# The rules for a (policy, card, region, texts) are the same for every video that shares them,
# so each is worked out once: per video they cost about 100,000 instructions, 5% of a title
# request's (bench/app_cost.py --instructions). Keyed by identity; the entry holds the policy
# and card themselves, so an id cannot be reused while its entry lives. Emptied when full (a
# bound, not an LRU).
_RULES: dict[tuple[int, int, str, int, bool], tuple[Policy, ModelCard, _Rules, _Used]] = {}
_RULES_KEPT = 10_000


def _rules(
    policy: Policy, card: ModelCard, region: str, texts: int, length_aware: bool
) -> tuple[_Rules, _Used]:
    key = (id(policy), id(card), region, texts, length_aware)
    cached = _RULES.get(key)
    if cached is not None and cached[0] is policy and cached[1] is card:
        return cached[2], cached[3]
    rules: list[tuple[str, Thresholds]] = []
    used: _Used = {}
    for label in card.labels:
        t = thresholds_for(policy, card, label, region, texts, length_aware)
        allows_removal = policy.labels[label].auto_remove
        used[label] = {"remove": t.remove if allows_removal else None, "review": t.review}
        if not allows_removal and t.remove is not None:
            # never removed automatically, but what would have been is at least reviewed
            review_at = t.remove if t.review is None else min(t.review, t.remove)
            used[label]["review"] = review_at
            t = Thresholds(remove=None, review=review_at)
        rules.append((label, t))
    if len(_RULES) >= _RULES_KEPT:
        _RULES.clear()
    made = tuple(rules)
    _RULES[key] = (policy, card, made, used)
    return made, used
