"""One scoring thread per API process that decides every scoring request waiting at once.

Scoring is CPU-bound and a worker process runs one scoring at a time anyway (more threads
only queue on the GIL). What it can do is share the fixed costs: scoring eight waiting videos
together takes one model run and one transaction (one commit, one drift and rollup upsert),
which in one process measured 5.3 ms a video for 1,500-word transcripts instead of 8.1, and
0.8 ms for titles instead of 1.6 (bench/service_throughput.py has the figures through HTTP).

Nothing waits for a batch to fill: the thread takes whatever is queued when it becomes free,
so a lone request is decided at once and batches only grow when requests are already queueing
(group commit). Requests merged this way are independent: if their joint call fails, each is
decided again on its own, so one request's error (an edit of a removed video, say) is only its
own. A score-batch call keeps its all-or-none meaning: it runs alone, never merged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from classifier import Video
from service.domain import Upload
from service.moderation import Scored

log = logging.getLogger(__name__)

Decide = Callable[[Sequence[Upload]], list[Scored]]


@dataclass(frozen=True, slots=True)
class _Job:
    uploads: Sequence[Upload]
    all_or_none: bool  # a score-batch call: decided alone, its videos logged together or not
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Scored]]

    @property
    def chars(self) -> int:
        return sum(_chars(upload.content) for upload in self.uploads)

    @property
    def video_ids(self) -> set[str]:
        return {upload.video_id for upload in self.uploads}


class ScoringCoalescer:
    """Decides queued scoring requests together, on its own thread, in arrival order."""

    def __init__(self, decide: Decide, *, max_videos: int, max_chars: int) -> None:
        self._decide = decide
        self._max_videos = max_videos
        self._max_chars = max_chars  # a long transcript is not held back by others, nor they by it
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._carried: collections.deque[_Job | None] = collections.deque()
        self._thread = threading.Thread(target=self._run, name="scoring", daemon=True)
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Decide what is queued, then stop."""
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout_s)

    async def score(self, uploads: Sequence[Upload], *, all_or_none: bool) -> list[Scored]:
        if self._closed:
            raise RuntimeError("the scoring thread is stopped")
        loop = asyncio.get_running_loop()
        job = _Job(uploads, all_or_none, loop, loop.create_future())
        self._queue.put(job)
        # shielded: a client that hangs up does not cancel a decision that may already be
        # logged; the handler just stops waiting for it
        return await asyncio.shield(job.future)

    # the scoring thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._carried.popleft() if self._carried else self._queue.get()
            if first is None:
                return
            jobs = [first] if first.all_or_none else self._gather(first)
            try:
                self._decide_jobs(jobs)
            except BaseException as exc:  # never leave a request waiting on a dead thread
                for job in jobs:
                    _settle(job, exc)
                if not isinstance(exc, Exception):
                    raise

    def _gather(self, first: _Job) -> list[_Job]:
        jobs, videos, chars, ids = [first], len(first.uploads), first.chars, first.video_ids
        while videos < self._max_videos and chars < self._max_chars:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            # a second request for a video already here waits for the next round, so it is
            # answered exactly as if the two had come one after the other
            if (
                job is None
                or job.all_or_none
                or chars + job.chars > self._max_chars
                or not ids.isdisjoint(job.video_ids)
            ):
                self._carried.append(job)  # decided next, in its turn
                break
            jobs.append(job)
            videos += len(job.uploads)
            chars += job.chars
            ids |= job.video_ids
        return jobs

    def _decide_jobs(self, jobs: list[_Job]) -> None:
        if len(jobs) == 1:
            _decide_one(self._decide, jobs[0])
            return
        try:
            results = self._decide([upload for job in jobs for upload in job.uploads])
        except Exception:
            log.info("scoring.merged_failed", extra={"requests": len(jobs)}, exc_info=True)
            for job in jobs:
                _decide_one(self._decide, job)
            return
        start = 0
        for job in jobs:
            _settle(job, results[start : start + len(job.uploads)])
            start += len(job.uploads)


def _chars(video: Video) -> int:
    transcript = video.transcript
    spoken = (
        len(transcript) if isinstance(transcript, str) else sum(len(s.text) for s in transcript)
    )
    return len(video.title) + len(video.description) + sum(map(len, video.hashtags)) + spoken


def _decide_one(decide: Decide, job: _Job) -> None:
    try:
        result: list[Scored] | BaseException = decide(job.uploads)
    except Exception as exc:
        result = exc
    _settle(job, result)


def _settle(job: _Job, outcome: list[Scored] | BaseException) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)

    # a closed event loop raises RuntimeError: nobody is waiting for this answer any more
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(settle)
