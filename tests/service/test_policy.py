"""decide(): scores -> action, as a table. Pure: no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier import ModelCard, NgramSpec, Thresholds, Windowing
from service.domain import Action
from service.errors import ConfigurationError
from service.policy import LabelPolicy, Policy, decide
from service.settings import PROJECT_ROOT

LABELS = ("hate_speech", "harassment", "spam", "misinformation")
CARD = ModelCard(
    name="test",
    version="t",
    labels=LABELS,
    thresholds={
        "hate_speech": Thresholds(remove=None, review=0.30),  # cannot reach the precision target
        "harassment": Thresholds(remove=0.80, review=0.50),
        "spam": Thresholds(remove=0.60, review=0.90),  # review above remove: band is empty
        "misinformation": Thresholds(remove=0.70, review=0.40),
    },
    length_thresholds={
        "harassment": {"1": Thresholds(0.80, 0.50), "4": Thresholds(0.90, 0.70)},
    },
    ngrams=NgramSpec(),
    windowing=Windowing(),
    normalisation_version="1",
    onnx_sha256="x",
    created_at="now",
)
POLICY = Policy(
    version="2023-04-21",
    labels={
        "hate_speech": LabelPolicy("Hate", auto_remove=True),
        "harassment": LabelPolicy("Harassment", auto_remove=True),
        "spam": LabelPolicy("Spam", auto_remove=True),
        "misinformation": LabelPolicy("Misinformation", auto_remove=False),
    },
    regions={"PK": {"harassment": {"review": 0.20}}},
)


def scores(**given: float) -> dict[str, float]:
    return {label: given.get(label, 0.0) for label in LABELS}


@pytest.mark.parametrize(
    ("given", "texts", "region", "action", "label"),
    [
        (scores(), 1, "GB", Action.ALLOW, None),
        (scores(harassment=0.49), 1, "GB", Action.ALLOW, None),
        (scores(harassment=0.50), 1, "GB", Action.REVIEW, "harassment"),  # at the threshold
        (scores(harassment=0.80), 1, "GB", Action.REMOVE, "harassment"),
        (scores(harassment=0.85), 4, "GB", Action.REVIEW, "harassment"),  # longer video: 0.90
        (scores(harassment=0.25), 1, "PK", Action.REVIEW, "harassment"),  # region override
        (scores(harassment=0.25), 1, "IN", Action.ALLOW, None),
        (scores(hate_speech=0.99), 1, "GB", Action.REVIEW, "hate_speech"),  # no remove threshold
        (scores(spam=0.65), 1, "GB", Action.REMOVE, "spam"),
        (scores(spam=0.55), 1, "GB", Action.ALLOW, None),
        # misinformation never removes: past its remove threshold it is reviewed
        (scores(misinformation=0.95), 1, "GB", Action.REVIEW, "misinformation"),
        (scores(misinformation=0.45), 1, "GB", Action.REVIEW, "misinformation"),
        # the most severe action wins, whatever the order of labels
        (scores(hate_speech=0.99, spam=0.61), 1, "GB", Action.REMOVE, "spam"),
        # among removals, the label furthest past its threshold decides
        (scores(harassment=0.81, spam=0.95), 1, "GB", Action.REMOVE, "spam"),
        (scores(harassment=0.99, spam=0.61), 1, "GB", Action.REMOVE, "harassment"),
    ],
)
def test_decide(
    given: dict[str, float], texts: int, region: str, action: Action, label: str | None
) -> None:
    decision = decide(given, texts, region, POLICY, CARD)
    assert (decision.action, decision.label) == (action, label)


def test_decision_records_the_thresholds_it_used() -> None:
    decision = decide(scores(), 4, "PK", POLICY, CARD)
    assert decision.thresholds["harassment"] == {"remove": 0.90, "review": 0.20}
    assert decision.thresholds["misinformation"] == {"remove": None, "review": 0.40}
    assert decide(scores(), 4, "GB", POLICY, CARD, length_aware=False).thresholds["harassment"] == {
        "remove": 0.80,
        "review": 0.50,
    }


def test_thresholds_worked_out_once_still_follow_the_policy_and_belong_to_each_decision() -> None:
    """decide() keeps the rules of a (policy, card, region, texts): another policy gets its
    own, and a decision's recorded thresholds are its own copy."""
    first = decide(scores(), 4, "PK", POLICY, CARD)
    first.thresholds["harassment"]["remove"] = 0.0  # type: ignore[index]  # a caller's change
    assert decide(scores(), 4, "PK", POLICY, CARD).thresholds["harassment"]["remove"] == 0.90
    stricter = Policy(
        version="stricter",
        labels={**POLICY.labels, "harassment": LabelPolicy("Harassment", auto_remove=False)},
        regions=POLICY.regions,
    )
    assert decide(scores(), 4, "PK", stricter, CARD).thresholds["harassment"]["remove"] is None


def test_the_shipped_policy_file_loads_and_covers_the_model() -> None:
    policy = Policy.load(PROJECT_ROOT / "policy" / "2023-04-21.toml")
    assert policy.version == "2023-04-21"
    assert policy.labels["misinformation"].auto_remove is False
    policy.check_covers(CARD)


@pytest.mark.parametrize(
    "text",
    [
        "nonsense = [",
        'version = "x"\n[labels.spam]\narea = "s"\n',  # auto_remove missing
        'version = "x"\n[labels.spam]\narea = "s"\nauto_remove = true\nreview = 1.5\n',
        'version = "x"\n[labels.spam]\narea = "s"\nauto_remove = true\n'
        "[regions.PK.nope]\nreview = 0.1\n",
    ],
)
def test_bad_policy_files_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError):
        Policy.load(path)


def test_a_policy_missing_a_model_label_is_refused() -> None:
    partial = Policy("x", {"spam": LabelPolicy("Spam", auto_remove=True)})
    with pytest.raises(ConfigurationError):
        partial.check_covers(CARD)
