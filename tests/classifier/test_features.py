"""The numpy n-gram keys must be exactly scikit-learn's analyzers' n-grams, hashed."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.features import (
    CHAR_BLOCK,
    TOKEN_PATTERN,
    WORD_BLOCK,
    NgramSpec,
    _count_per_segment,
    encode,
    text_keys,
    vocabulary_key,
)
from classifier.normalise import normalise

SPEC = NgramSpec()
WORD = TfidfVectorizer(lowercase=False, token_pattern=TOKEN_PATTERN, ngram_range=(1, 2))
CHAR = TfidfVectorizer(lowercase=False, analyzer="char", ngram_range=(2, 5))

SAMPLES = [
    "you are a b1tch",
    "یہ بہت اچھا ہے، کیا بات ہے",
    "bhai tu kitna ganda hai 😂😂😂",
    "FREE entry in 2 a wkly comp!!! txt 87121",
    "a",
    "",
    "ab",
    "émoji 🇵🇰 flag and ÇAPS",
    "under_score words_with_digits2 x",
    "𝔣𝔞𝔫𝔠𝔶 script and 𠜎 rare han",
]


def sklearn_keys(text: str) -> tuple[Counter[int], Counter[int]]:
    word = Counter(vocabulary_key(t, WORD_BLOCK) for t in WORD.build_analyzer()(text))
    char = Counter(vocabulary_key(t, CHAR_BLOCK) for t in CHAR.build_analyzer()(text))
    return word, char


def our_keys(text: str) -> tuple[Counter[int], Counter[int]]:
    word, char = text_keys(text, SPEC)
    return Counter(word.view(np.int64).tolist()), Counter(char.view(np.int64).tolist())


@pytest.mark.parametrize("raw", SAMPLES)
def test_keys_match_sklearn_analyzers(raw: str) -> None:
    text = normalise(raw)
    assert our_keys(text) == sklearn_keys(text)


@given(st.text(max_size=80))
def test_keys_match_sklearn_on_any_normalised_text(raw: str) -> None:
    text = normalise(raw)
    assert our_keys(text) == sklearn_keys(text)


def test_word_and_char_keys_never_share_a_key() -> None:
    word, char = text_keys(normalise("ab ab ab cd"), SPEC)
    assert not set(word.tolist()) & set(char.tolist())


def test_encode_counts_per_segment() -> None:
    batch = encode(["ab ab", "", "cd"], SPEC)
    assert batch.n_texts == 3
    segments = batch.segments.tolist()
    assert set(segments) == {0, 1, 4, 5}  # the empty text has no keys at all
    unigram_ab = vocabulary_key("ab", WORD_BLOCK)
    position = [
        i for i, k in enumerate(batch.keys.tolist()) if k == unigram_ab and segments[i] == 0
    ]
    assert batch.counts[position[0]] == 2.0


def test_encode_of_nothing() -> None:
    batch = encode([], SPEC)
    assert batch.n_texts == 0
    assert len(batch.keys) == 0


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([0, 1, 2, 2**63, 2**64 - 1])), max_size=60
    )
)
def test_keys_are_counted_once_per_segment(pairs: list[tuple[int, int]]) -> None:
    """Equal keys in neighbouring segments (and the largest key) stay apart and counted."""
    keys = np.array([key for _, key in pairs], dtype=np.uint64)
    segments = np.array([segment for segment, _ in pairs], dtype=np.int64)
    given_keys, given_segments = keys.copy(), segments.copy()
    batch = _count_per_segment(keys, segments, 3)
    assert np.array_equal(keys, given_keys)  # it sorts, but copies: the caller's are as given
    assert np.array_equal(segments, given_segments)
    assert (batch.keys.dtype, batch.counts.dtype, batch.segments.dtype) == (
        np.int64,
        np.float32,
        np.int64,
    )
    got = list(
        zip(
            batch.segments.tolist(),
            batch.keys.view(np.uint64).tolist(),
            batch.counts.astype(int).tolist(),
            strict=True,
        )
    )
    expected = sorted((segment, key, n) for (segment, key), n in Counter(pairs).items())
    assert got == expected  # unique per segment, in segment then key order


@given(st.lists(st.text(max_size=40), max_size=6))
def test_batch_encoding_equals_text_by_text(raws: list[str]) -> None:
    texts = [normalise(raw) for raw in raws]
    batch = encode(texts, SPEC)
    got: Counter[tuple[int, int]] = Counter()
    for key, count, segment in zip(
        batch.keys.tolist(), batch.counts.tolist(), batch.segments.tolist(), strict=True
    ):
        got[(segment, key)] += int(count)
    expected: Counter[tuple[int, int]] = Counter()
    for index, text in enumerate(texts):
        for block, keys in enumerate(text_keys(text, SPEC)):
            for key in keys.view(np.int64).tolist():
                expected[(index * 2 + block, key)] += 1
    assert got == expected
    assert len(set(zip(batch.segments.tolist(), batch.keys.tolist(), strict=True))) == len(
        batch.keys
    )
