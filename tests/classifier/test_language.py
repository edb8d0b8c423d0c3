from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifier.language import (
    _ARABIC_SCRIPT,
    _ROMAN_URDU,
    ROMAN_URDU_SHARE,
    SAMPLE_CHARS,
    detect_language,
)

# The rule as its module docstring states it, written plainly: every letter of the sample
# counted. detect_language counts them another way, and only when there is Arabic script.
_LETTER = re.compile(r"[^\W\d_]")
_ROMAN_URDU_EXAMPLES = "yaar yeh video bohat acha hai, aap bhi dekho"


def _plain_rule(text: str) -> str:
    text = text[:SAMPLE_CHARS]
    letters = len(_LETTER.findall(text))
    if letters and len(_ARABIC_SCRIPT.findall(text)) / letters >= 0.5:
        return "ur"
    words = re.findall("[a-z]+", text.casefold())
    if words and sum(word in _ROMAN_URDU for word in words) / len(words) >= ROMAN_URDU_SHARE:
        return "ur-Latn"
    return "en"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Chicken karahi in 20 minutes, Lahore style", "en"),
        ("یہ ویڈیو بہت اچھی ہے", "ur"),
        (_ROMAN_URDU_EXAMPLES, "ur-Latn"),
        ("Lahore ka match: یہ ویڈیو بہت اچھی ہے", "ur"),  # Urdu letters are most of the letters
        ("a long English sentence about cricket with one word اچھا", "en"),
        ("١٢٣ ، ٤٥٦", "en"),  # Arabic script and no letter at all
        ("", "en"),
        ("   ", "en"),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_only_the_sample_is_read() -> None:
    english = "the match was good and the fans were happy " * 40
    assert len(english) > SAMPLE_CHARS
    assert detect_language(english + "یہ ویڈیو بہت اچھی ہے" * 200) == "en"


_PIECES = ["yaar", "hai", "the", "match", "اچھا", "ویڈیو", "١٢", "42", "_", "!", " ", "\u200c"]


@given(
    st.lists(st.sampled_from(_PIECES)).map(" ".join)
    | st.lists(st.sampled_from(_PIECES), min_size=150, max_size=300).map(" ".join)  # > sample
    | st.text(max_size=300)
    | st.text(min_size=900, max_size=1_200)
)
def test_agrees_with_the_plain_rule(text: str) -> None:
    assert detect_language(text) == _plain_rule(text)


@pytest.mark.data
def test_the_figures_in_its_comment_hold_on_the_training_data(data_file: Path) -> None:
    found: dict[tuple[str, str], int] = {}
    for line in data_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        key = (row["lang"], detect_language(row["text"]))
        found[key] = found.get(key, 0) + 1

    def share(lang: str, detected: str) -> float:
        total = sum(n for (truth, _), n in found.items() if truth == lang)
        return found.get((lang, detected), 0) / total

    assert share("ur", "ur") == 1.0
    assert share("ur-Latn", "ur-Latn") >= 0.74  # "finds 74% of the Roman Urdu rows"
    assert share("en", "en") >= 1 - 0.0007  # "misreads 0.07% of the English ones"
