"""N-gram features as 64-bit keys, computed with numpy and shared by the ONNX and sklearn paths.

Why this exists: skl2onnx exports TfidfVectorizer with its own tokeniser (ASCII-only word pattern,
different whitespace handling) and a dense ``[texts, vocabulary]`` output that costs about 2 ms
per call whatever the text. Instead, the scorer tokenises here, once, exactly as scikit-learn's
analyzers do (same regex semantics for words, same substrings for characters), and hands the ONNX
graph only the n-grams' keys and counts; the graph looks them up in the vocabulary and does the
TF-IDF and linear algebra sparsely (see ``classifier.export``).

A key is a 64-bit hash of the n-gram's code points, computed for every n-gram of a text at once
with a prefix polynomial hash (no Python loop per n-gram). The export turns each vocabulary string
of the fitted vectorizers into its key with the same functions, so both paths agree by
construction; a collision inside the vocabulary is detected at export time.

Word tokens follow scikit-learn's default ``(?u)\\b\\w\\w+\\b``: maximal runs of two or more
characters that Python's ``re`` counts as ``\\w``.

Imports numpy only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default, used by the training vectorizer

_MASK64 = (1 << 64) - 1
_BASE = 0x9E3779B97F4A7C15  # odd, so it has an inverse modulo 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)
_BIGRAM_MULT = np.uint64(0xC2B2AE3D27D4EB4F)
# Distinct offsets keep word unigrams, word bigrams and char n-grams of each length apart.
_WORD_TAG = np.uint64(0x1F0E3D2C4B5A6978)
_BIGRAM_TAG = np.uint64(0x5BD1E9955BD1E995)
_CHAR_TAG = 0x27D4EB2F165667C5

WORD_BLOCK = 0
CHAR_BLOCK = 1
BLOCKS = 2  # each text has a word segment and a char segment, normalised separately


@dataclass(frozen=True, slots=True)
class NgramSpec:
    """Which n-grams a model uses; stored in the model card and checked against the vectorizers."""

    word_min_n: int = 1
    word_max_n: int = 2
    char_min_n: int = 2
    char_max_n: int = 5
    sublinear_tf: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.word_min_n <= self.word_max_n <= 2:
            raise ValueError("word n-grams must lie within 1..2")
        if not 1 <= self.char_min_n <= self.char_max_n <= 8:
            raise ValueError("char n-grams must lie within 1..8")


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Unique n-gram keys per (text, block) segment with their counts: the ONNX graph's input."""

    keys: I64
    counts: F32
    segments: I64  # text index * BLOCKS + block
    n_texts: int


def _fmix(x: U64) -> U64:
    """MurmurHash3's 64-bit finaliser: spreads the polynomial hash over all bits."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


class _Powers:
    """BASE**k and BASE**-k modulo 2**64, grown on demand (uint64 arithmetic wraps)."""

    def __init__(self) -> None:
        self.up: U64 = np.ones(1, dtype=np.uint64)
        self.down: U64 = np.ones(1, dtype=np.uint64)

    def ensure(self, n: int) -> None:
        if len(self.up) > n:
            return
        size = max(n + 1, 2 * len(self.up))
        up = np.full(size, _BASE, dtype=np.uint64)
        down = np.full(size, _BASE_INV, dtype=np.uint64)
        up[0] = down[0] = 1
        self.up = np.cumprod(up, dtype=np.uint64)
        self.down = np.cumprod(down, dtype=np.uint64)


_POWERS = _Powers()


@functools.cache
def _word_char_table() -> npt.NDArray[np.bool_]:
    """For every BMP code point, whether Python's ``re`` treats it as ``\\w``."""
    word = re.compile(r"\w")
    return np.array([word.match(chr(c)) is not None for c in range(0x10000)], dtype=np.bool_)


def _is_word_char(points: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    table = _word_char_table()
    in_bmp = points < 0x10000
    result = np.zeros(len(points), dtype=np.bool_)
    result[in_bmp] = table[points[in_bmp]]
    if not in_bmp.all():  # rare: emoji and historic scripts, checked one by one
        word = re.compile(r"\w")
        for i in np.flatnonzero(~in_bmp):
            result[i] = word.match(chr(int(points[i]))) is not None
    return result


def _code_points(text: str) -> npt.NDArray[np.uint32]:
    # surrogatepass: a lone surrogate must not make scoring raise; it just hashes as itself.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class _PrefixHash:
    """Polynomial hash of any substring in O(1) after one O(n) cumulative sum."""

    def __init__(self, points: npt.NDArray[np.uint32]) -> None:
        n = len(points)
        _POWERS.ensure(n + 1)
        weighted = (points.astype(np.uint64) + np.uint64(1)) * _POWERS.down[1 : n + 1]
        self._prefix: U64 = np.concatenate(
            [np.zeros(1, dtype=np.uint64), np.cumsum(weighted, dtype=np.uint64)]
        )

    def span(self, starts: I64, ends: I64) -> U64:
        """Hash of text[s:e] for each pair; equal substrings give equal hashes anywhere."""
        return _POWERS.up[ends] * (self._prefix[ends] - self._prefix[starts])


def _word_spans(points: npt.NDArray[np.uint32]) -> tuple[I64, I64]:
    is_word = _is_word_char(points)
    edges = np.diff(np.concatenate([[False], is_word, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    keep = ends - starts >= 2
    return starts[keep].astype(np.int64), ends[keep].astype(np.int64)


def _char_tag(n: int) -> np.uint64:
    # Python ints here: numpy warns on uint64 scalar overflow, and the tag must wrap.
    return np.uint64((_CHAR_TAG * n) & _MASK64)


def text_keys(text: str, spec: NgramSpec) -> tuple[U64, U64]:
    """All word and char n-gram keys of one normalised text, with repetitions (for tests and
    for reading a text's features; scoring uses `encode`)."""
    batch = encode([text], spec)
    keys = batch.keys.view(np.uint64)
    counts = batch.counts.astype(np.int64)
    word = batch.segments % BLOCKS == WORD_BLOCK
    return np.repeat(keys[word], counts[word]), np.repeat(keys[~word], counts[~word])


def encode(texts: Sequence[str], spec: NgramSpec) -> EncodedBatch:
    """Keys and counts of every (text, block) segment of normalised texts, for one ONNX run.

    All texts are hashed in one pass over their concatenation (joined by a space, which no
    word or n-gram may cross), so the numpy call count does not grow with the batch.
    """
    if not texts:
        empty = np.zeros(0, dtype=np.int64)
        return EncodedBatch(empty, np.zeros(0, dtype=np.float32), empty, 0)
    points = _code_points(" ".join(texts))
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    # text index and end offset of every position (a text's trailing separator counts as its)
    text_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[: len(points)]
    ends = (np.cumsum(lengths + 1) - 1)[text_of]
    hasher = _PrefixHash(points)

    word_starts, word_ends = _word_spans(points)
    word_text = text_of[word_starts]
    token_hashes = hasher.span(word_starts, word_ends)
    keys: list[U64] = []
    segments: list[I64] = []
    if spec.word_min_n <= 1:
        keys.append(_fmix(token_hashes + _WORD_TAG))
        segments.append(word_text * BLOCKS + WORD_BLOCK)
    if spec.word_max_n >= 2 and len(token_hashes) >= 2:
        same_text = word_text[:-1] == word_text[1:]
        pair = token_hashes[:-1][same_text] * _BIGRAM_MULT + token_hashes[1:][same_text]
        keys.append(_fmix(pair + _BIGRAM_TAG))
        segments.append(word_text[:-1][same_text] * BLOCKS + WORD_BLOCK)
    for n in range(spec.char_min_n, spec.char_max_n + 1):
        starts = np.arange(0, max(len(points) - n + 1, 0), dtype=np.int64)
        starts = starts[starts + n <= ends[starts]]
        keys.append(_fmix(hasher.span(starts, starts + n) + _char_tag(n)))
        segments.append(text_of[starts] * BLOCKS + CHAR_BLOCK)
    return _count_per_segment(np.concatenate(keys), np.concatenate(segments), len(texts))


def _count_per_segment(keys: U64, segments: I64, n_texts: int) -> EncodedBatch:
    """Unique keys of each segment with their counts, segments in order, keys ascending.

    Each segment's keys are sorted in place (one numpy call per segment: a 1,500-word
    transcript has 64), and the runs of equal keys are then found for all segments at once;
    ``np.unique`` per segment, its generality paid 64 times, made this step about twice as
    slow (BENCHMARKS.md has the whole scorer's A/B: about +18% for a transcript).
    """
    if len(keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return EncodedBatch(empty, np.zeros(0, dtype=np.float32), empty, n_texts)
    order = np.argsort(segments, kind="stable")  # radix-like for small ints
    keys, segments = keys[order], segments[order]  # copies: sorted in place below
    bounds = np.flatnonzero(np.diff(segments)) + 1
    starts = np.r_[0, bounds]
    for begin, end in zip(starts.tolist(), [*bounds.tolist(), len(keys)], strict=True):
        keys[begin:end].sort()
    first = np.empty(len(keys), dtype=np.bool_)  # where a run of equal keys begins
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    first[starts] = True  # a segment's first key, even if the last one's last was the same
    runs = np.flatnonzero(first)
    return EncodedBatch(
        keys=keys[runs].view(np.int64),
        counts=np.diff(runs, append=len(keys)).astype(np.float32),
        segments=segments[runs],
        n_texts=n_texts,
    )


def vocabulary_key(term: str, block: int) -> int:
    """The key of one vocabulary entry of a fitted word or char vectorizer (used by the export).

    A word term is one token or two tokens joined by a space, as scikit-learn writes bigrams;
    a char term is the n-gram itself.
    """
    if block == WORD_BLOCK:
        tokens = term.split(" ")
        hashes = np.array([_whole_hash(token) for token in tokens], dtype=np.uint64)
        if len(tokens) == 1:
            key = _fmix(hashes + _WORD_TAG)[0]
        elif len(tokens) == 2:
            key = _fmix(hashes[:1] * _BIGRAM_MULT + hashes[1:] + _BIGRAM_TAG)[0]
        else:
            raise ValueError(f"word term with {len(tokens)} tokens: {term!r}")
    else:
        key = _fmix(np.array([_whole_hash(term)], dtype=np.uint64) + _char_tag(len(term)))[0]
    return int(np.array([key], dtype=np.uint64).view(np.int64)[0])


def _whole_hash(text: str) -> np.uint64:
    points = _code_points(text)
    hasher = _PrefixHash(points)
    ends = np.array([len(points)], dtype=np.int64)
    return np.uint64(hasher.span(np.zeros(1, dtype=np.int64), ends)[0])
