from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifier.language import _ROMAN_URDU, ROMAN_URDU_SHARE, SAMPLE_CHARS, detect_language

# The rule as its module docstring states it, written plainly: every letter of the sample
# counted. detect_language counts letters only when there is Arabic script, and faster.
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_LETTER = re.compile(r"[^\W\d_]")
_ROMAN_URDU_EXAMPLES = "yaar yeh video bohat acha hai, aap bhi dekho"


def _plain_rule(text: str) -> str:
    text = text[:SAMPLE_CHARS]
    letters = len(_LETTER.findall(text))
    if letters and len(_ARABIC.findall(text)) / letters >= 0.5:
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
        ("score ١٢ in the final over today", "en"),  # Arabic-Indic digits: script, not letters
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


@given(
    st.lists(
        st.sampled_from(
            ["yaar", "hai", "the", "match", "اچھا", "ویڈیو", "١٢", "42", "_", "!", " ", "\u200c"]
        )
    ).map(" ".join)
    | st.text(max_size=300)
)
def test_agrees_with_the_plain_rule(text: str) -> None:
    assert detect_language(text) == _plain_rule(text)


@pytest.mark.data
def test_the_docstring_figures_hold_on_the_training_data(data_file: Path) -> None:
    found: dict[tuple[str, str], int] = {}
    for line in data_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        key = (row["lang"], detect_language(row["text"]))
        found[key] = found.get(key, 0) + 1

    def share(lang: str, detected: str) -> float:
        total = sum(n for (truth, _), n in found.items() if truth == lang)
        return found.get((lang, detected), 0) / total

    assert share("ur", "ur") == 1.0
    assert share("ur-Latn", "ur-Latn") >= 0.70  # "finds 74% of the Roman Urdu rows"
    assert share("en", "en") >= 0.999  # "misreads 0.07% of the English ones"
