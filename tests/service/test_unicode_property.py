"""Property: arbitrary Unicode in any text of a video (lone surrogates, NUL, control and
unassigned characters, right-to-left marks, combining marks) is scored or refused with a 422
problem through the HTTP API, never a 5xx; and the committed model scores any such video."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from classifier import OnnxScorer, TranscriptSegment, Video
from tests.service.conftest import video

ANY_TEXT = st.text(st.characters(codec=None), max_size=300)  # every code point, surrogates too
SEGMENTS = st.lists(ANY_TEXT, max_size=4).map(
    lambda texts: [{"start_s": i, "end_s": i + 1, "text": text} for i, text in enumerate(texts)]
)
VIDEO_TEXTS = {
    "title": ANY_TEXT,
    "description": ANY_TEXT,
    "hashtags": st.lists(ANY_TEXT, max_size=3),
    "transcript": ANY_TEXT | SEGMENTS,
}
_numbers = itertools.count()


@settings(max_examples=150, deadline=None)
@given(**VIDEO_TEXTS)
def test_the_committed_model_scores_any_unicode(
    scorer: OnnxScorer,
    title: str,
    description: str,
    hashtags: list[str],
    transcript: str | list[dict[str, object]],
) -> None:
    timed: str | tuple[TranscriptSegment, ...] = (
        tuple(TranscriptSegment(i, i + 1, str(s["text"])) for i, s in enumerate(transcript))
        if isinstance(transcript, list)
        else transcript
    )
    [scores] = scorer.score_videos([Video(title, description, tuple(hashtags), timed)])
    assert all(0.0 <= p <= 1.0 and math.isfinite(p) for p in scores.scores.values())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one app for all examples
)
@given(**VIDEO_TEXTS)
@example(title="\ud800", description="\x00", hashtags=["\u202e"], transcript="\udfff")  # always
def test_the_api_scores_or_refuses_any_unicode(
    client: TestClient,
    uploader: dict[str, str],
    title: str,
    description: str,
    hashtags: list[str],
    transcript: str | list[dict[str, object]],
) -> None:
    body = video(
        f"u{next(_numbers)}",
        title=title,
        description=description,
        hashtags=hashtags,
        transcript=transcript,
    )
    # Lone surrogates cannot be UTF-8 encoded, so a client can only send them as \\ud800
    # escapes: encode with ensure_ascii ourselves (the test client's encoder does not escape).
    response = client.post(
        "/v1/videos/score",
        content=json.dumps(body, ensure_ascii=True),
        headers={**uploader, "content-type": "application/json"},
    )
    assert response.status_code in (200, 422), response.text[:300]
    event(f"answered {response.status_code}")  # --hypothesis-show-statistics shows the mix
    if response.status_code == 422:
        assert response.headers["content-type"] == "application/problem+json"
