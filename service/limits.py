"""Checks a video body against the documented limits and the domain's rules, before any work.

Everything found is reported at once (each with its location), as a 422 problem; nothing is
written for a request that fails here.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.errors import InvalidRequestError
from service.regions import is_region
from service.schemas import VideoIn
from service.settings import Settings

Location = tuple[str | int, ...]


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (lone surrogate)"
    return None


def video_errors(
    video: VideoIn, settings: Settings, where: Location = ()
) -> list[dict[str, object]]:
    errors: list[dict[str, object]] = []

    def add(location: Location, message: str) -> None:
        errors.append({"loc": list(where + location), "msg": message})

    if not is_region(video.region):
        add(("region",), f"{video.region!r} is not an ISO 3166-1 alpha-2 country code")
    texts: list[tuple[Location, str, int]] = [
        (("video_id",), video.video_id, settings.max_id_chars),
        (("creator_id",), video.creator_id, settings.max_id_chars),
        (("title",), video.title, settings.max_title_chars),
        (("description",), video.description, settings.max_description_chars),
    ]
    if len(video.hashtags) > settings.max_hashtags:
        add(("hashtags",), f"at most {settings.max_hashtags} hashtags")
    texts.extend(
        (("hashtags", i), tag, settings.max_hashtag_chars) for i, tag in enumerate(video.hashtags)
    )
    transcript_chars = 0
    if isinstance(video.transcript, str):
        texts.append((("transcript",), video.transcript, settings.max_transcript_chars))
        transcript_chars = len(video.transcript)
    else:
        if len(video.transcript) > settings.max_transcript_segments:
            add(("transcript",), f"at most {settings.max_transcript_segments} segments")
        for i, segment in enumerate(video.transcript):
            if segment.end_s < segment.start_s:
                add(("transcript", i), "end_s is before start_s")
            texts.append((("transcript", i, "text"), segment.text, settings.max_transcript_chars))
            transcript_chars += len(segment.text)
        if transcript_chars > settings.max_transcript_chars:
            add(("transcript",), f"at most {settings.max_transcript_chars} characters in all")
    for location, value, limit in texts:
        if len(value) > limit:
            add(location, f"at most {limit} characters")
        problem = _text_problem(value)
        if problem:
            add(location, problem)
    has_text = any(
        value.strip()
        for location, value, _ in texts
        if location[0] not in ("video_id", "creator_id")
    )
    if not has_text:
        add((), "nothing to score: title, description, hashtags and transcript are all empty")
    return errors


def check_videos(videos: Sequence[VideoIn], settings: Settings, batch: bool) -> None:
    errors: list[dict[str, object]] = []
    if batch and len(videos) > settings.max_batch_videos:
        errors.append({"loc": ["videos"], "msg": f"at most {settings.max_batch_videos} videos"})
    seen: set[str] = set()
    for index, video in enumerate(videos):
        where: Location = ("videos", index) if batch else ()
        errors.extend(video_errors(video, settings, where))
        if video.video_id in seen:
            errors.append({"loc": [*where, "video_id"], "msg": "the same video twice in a batch"})
        seen.add(video.video_id)
    if errors:
        raise InvalidRequestError(f"{len(errors)} problem(s) in the request", errors)


def check_text(value: str, location: str, limit: int) -> None:
    problem = _text_problem(value)
    if problem or len(value) > limit:
        message = problem or f"at most {limit} characters"
        raise InvalidRequestError(f"{location} {message}", [{"loc": [location], "msg": message}])
