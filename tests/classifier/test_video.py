from __future__ import annotations

import pytest

from classifier.errors import InvalidContentError
from classifier.video import (
    TranscriptSegment,
    Video,
    Windowing,
    transcript_windows,
    video_from_json,
    video_units,
)


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_units_in_field_order_and_hashtags_split() -> None:
    video = Video(
        title="A title",
        description="Some description",
        hashtags=("#FreeMoney", "CryptoGiveaway", "#", " "),
        transcript="hello there",
    )
    units = video_units(video, Windowing())
    assert [u.field for u in units] == ["title", "description", "hashtags", "transcript"]
    assert units[2].text == "#Free Money #Crypto Giveaway"
    assert units[3].start_s is None
    assert units[3].end_s is None


def test_empty_fields_give_no_units() -> None:
    assert video_units(Video(title="  ", transcript=()), Windowing()) == []


def test_plain_transcript_windows_overlap_and_cover_the_end() -> None:
    windowing = Windowing(window_words=10, stride_words=6)
    windows = list(transcript_windows(words(25), windowing))
    starts = [int(w.text.split()[0][1:]) for w in windows]
    assert starts == [0, 6, 12, 15]  # the tail gets a full window: w15..w24
    assert all(len(w.text.split()) == 10 for w in windows)
    assert windows[-1].text.split()[-1] == "w24"


def test_short_transcript_is_one_window() -> None:
    windows = list(transcript_windows("just four words here", Windowing(10, 6)))
    assert [w.text for w in windows] == ["just four words here"]


def test_timed_windows_keep_their_span() -> None:
    segments = (
        TranscriptSegment(0.0, 4.0, "a b c d"),  # 1 s per word
        TranscriptSegment(10.0, 12.0, "e f"),
        TranscriptSegment(12.0, 18.0, "g h i"),
    )
    windows = list(transcript_windows(segments, Windowing(window_words=4, stride_words=3)))
    assert [(w.text, w.start_s, w.end_s) for w in windows] == [
        ("a b c d", 0.0, 4.0),
        ("d e f g", 3.0, 14.0),
        ("f g h i", 11.0, 18.0),
    ]


def test_bad_segment_times_are_refused() -> None:
    with pytest.raises(InvalidContentError):
        TranscriptSegment(5.0, 2.0, "backwards")
    with pytest.raises(InvalidContentError):
        TranscriptSegment(-1.0, 2.0, "negative")


def test_video_from_json() -> None:
    video = video_from_json(
        {
            "title": "t",
            "hashtags": ["#x"],
            "transcript": [{"start_s": 0, "end_s": 1.5, "text": "hi"}],
            "region": "PK",
        }
    )
    assert video.transcript == (TranscriptSegment(0.0, 1.5, "hi"),)
    for bad in ({"title": 3}, {"hashtags": "x"}, {"transcript": [{"text": "no times"}]}, []):
        with pytest.raises(InvalidContentError):
            video_from_json(bad)
