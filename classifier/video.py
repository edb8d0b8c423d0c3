"""A video's texts: title, description, hashtags and the transcript cut into overlapping windows.

Each unit remembers where it came from (field, and for timed transcripts the seconds it spans),
so the evidence for a score can send a moderator to the right moment of the video.

Windows: ``window_words`` words, advancing ``stride_words`` at a time, so consecutive windows
share ``window_words - stride_words`` words and a phrase no longer than that overlap is always
seen whole by some window. With timed segments, each word gets a time by spreading its segment's
span evenly over the segment's words (speech-to-text gives no finer timing).

Imports nothing outside the standard library and classifier.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from classifier.errors import InvalidContentError
from classifier.normalise import split_hashtag

TITLE = "title"
DESCRIPTION = "description"
HASHTAGS = "hashtags"
TRANSCRIPT = "transcript"
FIELDS = (TITLE, DESCRIPTION, HASHTAGS, TRANSCRIPT)


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    start_s: float
    end_s: float
    text: str

    def __post_init__(self) -> None:
        if not (self.start_s >= 0 and self.end_s >= self.start_s):
            raise InvalidContentError(
                f"transcript segment times must satisfy 0 <= start_s <= end_s, "
                f"got {self.start_s}..{self.end_s}"
            )


@dataclass(frozen=True, slots=True)
class Video:
    """The classifier's view of a video: only its texts."""

    title: str = ""
    description: str = ""
    hashtags: tuple[str, ...] = ()
    transcript: str | tuple[TranscriptSegment, ...] = ""


@dataclass(frozen=True, slots=True)
class Windowing:
    window_words: int = 64
    stride_words: int = 48

    def __post_init__(self) -> None:
        if not 0 < self.stride_words <= self.window_words:
            raise ValueError("need 0 < stride_words <= window_words")


@dataclass(frozen=True, slots=True)
class TextUnit:
    """One scored piece of a video: a field, or one window of the transcript."""

    field: str
    text: str
    start_s: float | None = None
    end_s: float | None = None


def video_units(video: Video, windowing: Windowing) -> list[TextUnit]:
    """Every unit of text to score, in a stable order: title, description, hashtags, windows."""
    units: list[TextUnit] = []
    if video.title.strip():
        units.append(TextUnit(TITLE, video.title))
    if video.description.strip():
        units.append(TextUnit(DESCRIPTION, video.description))
    tags = " ".join("#" + split_hashtag(tag) for tag in video.hashtags if tag.strip("# "))
    if tags:
        units.append(TextUnit(HASHTAGS, tags))
    units.extend(transcript_windows(video.transcript, windowing))
    return units


def transcript_windows(
    transcript: str | Sequence[TranscriptSegment], windowing: Windowing
) -> Iterator[TextUnit]:
    timed = _timed_words(transcript)
    if not timed:
        return
    last_start = max(len(timed) - windowing.window_words, 0)
    starts = list(range(0, last_start + 1, windowing.stride_words))
    if starts[-1] != last_start:
        starts.append(last_start)  # the tail gets a full window rather than a short one
    for begin in starts:
        chunk = timed[begin : begin + windowing.window_words]
        text = " ".join(word for word, _, _ in chunk)
        start_s, end_s = chunk[0][1], chunk[-1][2]
        yield TextUnit(TRANSCRIPT, text, start_s, end_s)


def _timed_words(
    transcript: str | Sequence[TranscriptSegment],
) -> list[tuple[str, float | None, float | None]]:
    if isinstance(transcript, str):
        return [(word, None, None) for word in transcript.split()]
    timed: list[tuple[str, float | None, float | None]] = []
    for segment in transcript:
        words = segment.text.split()
        step = (segment.end_s - segment.start_s) / max(len(words), 1)
        for i, word in enumerate(words):
            start = round(segment.start_s + i * step, 2)
            end = round(segment.start_s + (i + 1) * step, 2)
            timed.append((word, start, end))
    return timed


def video_from_json(body: object) -> Video:
    """A video from a JSON object (the API's video schema; unknown fields are ignored)."""
    if not isinstance(body, dict):
        raise InvalidContentError("a video must be a JSON object")
    texts = {name: body.get(name) or "" for name in (TITLE, DESCRIPTION)}
    for name, value in texts.items():
        if not isinstance(value, str):
            raise InvalidContentError(f"{name} must be a string")
    hashtags = body.get(HASHTAGS) or []
    if not isinstance(hashtags, list) or not all(isinstance(tag, str) for tag in hashtags):
        raise InvalidContentError("hashtags must be a list of strings")
    transcript = body.get(TRANSCRIPT) or ""
    if isinstance(transcript, list):
        try:
            segments = tuple(
                TranscriptSegment(float(s["start_s"]), float(s["end_s"]), str(s["text"]))
                for s in transcript
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidContentError("transcript segments need start_s, end_s and text") from exc
        return Video(texts[TITLE], texts[DESCRIPTION], tuple(hashtags), segments)
    if not isinstance(transcript, str):
        raise InvalidContentError("transcript must be a string or a list of segments")
    return Video(texts[TITLE], texts[DESCRIPTION], tuple(hashtags), transcript)
