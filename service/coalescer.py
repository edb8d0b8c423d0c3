"""One scoring thread per API process that decides every scoring request waiting at once.

Scoring is CPU-bound and a worker process runs one scoring at a time anyway (more threads
only queue on the GIL). What it can do is share the fixed costs: scoring eight waiting videos
together takes one model run and one transaction (one commit, one drift and rollup upsert),
which in one process measured 5.3 ms a video for 1,500-word transcripts instead of 8.1, and
0.8 ms for titles instead of 1.6 (BENCHMARKS.md has the figures through HTTP).

Nothing waits for a batch to fill: the thread takes whatever is queued when it becomes free,
so a lone request is decided at once and batches only grow when requests are already queueing
(group commit). Requests merged this way are independent: if their joint write fails (it
writes nothing then), each is written again on its own, without running the model again, so
one request's error (an edit of a removed video, say) is only its own; a database that is
not answering fails them all at once instead. A score-batch call keeps its all-or-none
meaning: it runs alone, never merged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from classifier import Video
from service import metrics
from service.domain import Upload
from service.errors import ServiceUnavailableError
from service.moderation import Scored
from service.problems import database_unavailable
from service.scoring_write import ScoringRecord

log = logging.getLogger(__name__)
T = TypeVar("T")

Assess = Callable[[Sequence[Upload]], list[ScoringRecord]]
Record = Callable[[Sequence[ScoringRecord]], list[Scored]]


@dataclass(frozen=True, slots=True)
class _Job:
    uploads: Sequence[Upload]
    all_or_none: bool  # a score-batch call: decided alone, its videos logged together or not
    chars: int
    video_ids: frozenset[str]
    future: asyncio.Future[list[Scored]]  # of the event loop of the waiting handler
    queued_at: float  # time.monotonic(): how long it waited is a metric (queueing, not work)


_Outcome = tuple[_Job, list[Scored] | BaseException]  # a job and its decisions or its error


class ScoringCoalescer:
    """Decides queued scoring requests together, on its own thread, in arrival order."""

    def __init__(self, assess: Assess, record: Record, *, max_videos: int, max_chars: int) -> None:
        self._assess = assess
        self._record = record
        self._max_videos = max_videos
        self._max_chars = max_chars  # a long transcript is not held back by others, nor they by it
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._carried: collections.deque[_Job | None] = collections.deque()
        self._thread = threading.Thread(target=self._run, name="scoring", daemon=True)
        self._closing = threading.Lock()  # no job may be queued behind the stop marker
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout_s: float = 30.0) -> bool:
        """Decide what is queued, then stop; False if the thread was still busy at the timeout."""
        with self._closing:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    async def score(self, uploads: Sequence[Upload], *, all_or_none: bool) -> list[Scored]:
        job = _Job(
            uploads,
            all_or_none,
            sum(_chars(upload.content) for upload in uploads),
            frozenset(upload.video_id for upload in uploads),
            asyncio.get_running_loop().create_future(),
            time.monotonic(),
        )
        with self._closing:
            if self._closed or not self._thread.is_alive():
                raise ServiceUnavailableError("this worker's scoring thread is stopped")
            metrics.count_scoring_waiting(len(uploads))
            self._queue.put(job)
        # A handler that is cancelled (its client gone) cancels only its wait: the thread
        # still decides and logs the job, and leaves a cancelled future alone (_settle).
        return await job.future

    # the scoring thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            jobs: list[_Job] = []
            try:
                first = self._carried.popleft() if self._carried else self._queue.get()
                if first is None:
                    return
                jobs = [first]
                if not first.all_or_none:
                    self._gather(jobs)
                _taken_up(jobs)
                self._decide(jobs)
            except Exception as exc:  # a fault of ours: those requests fail, the thread goes on
                log.error("scoring.failed", extra={"error": type(exc).__name__})
                for job in jobs:
                    _settle(job, exc)
            except BaseException as exc:  # SystemExit and the like: the thread stops here
                log.critical("scoring.stopped", extra={"error": type(exc).__name__})
                with self._closing:  # nothing more is queued, and nobody is left waiting
                    self._closed = True
                drained = self._drain()
                metrics.count_scoring_waiting(-sum(len(job.uploads) for job in drained))
                for job in [*jobs, *drained]:
                    _settle(job, ServiceUnavailableError("the scoring thread stopped"))
                return

    def _gather(self, jobs: list[_Job]) -> None:
        """Add the single-video jobs queued behind ``jobs[0]``, up to the limits."""
        videos, chars = len(jobs[0].uploads), jobs[0].chars
        ids = set(jobs[0].video_ids)
        while videos < self._max_videos and chars < self._max_chars:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            # a second request for a video already here waits for the next round, so it is
            # answered exactly as if the two had come one after the other
            if (
                job is None
                or job.all_or_none
                or chars + job.chars > self._max_chars
                or not ids.isdisjoint(job.video_ids)
            ):
                self._carried.append(job)  # decided next, in its turn
                return
            jobs.append(job)
            videos += len(job.uploads)
            chars += job.chars
            ids |= job.video_ids

    def _drain(self) -> list[_Job]:
        waiting = [job for job in self._carried if job is not None]
        self._carried.clear()
        with contextlib.suppress(queue.Empty):
            while True:
                job = self._queue.get_nowait()
                if job is not None:
                    waiting.append(job)
        return waiting

    def _decide(self, jobs: list[_Job]) -> None:
        uploads = [upload for job in jobs for upload in job.uploads]
        metrics.observe_scoring_batch(len(uploads))
        if len(jobs) == 1:
            _settle(jobs[0], _attempt(self._score, uploads))
            return
        try:
            records = self._assess(uploads)
        except Exception as exc:  # the model is not per request: nothing to redo apart
            for job in jobs:
                _settle(job, exc)
            return
        try:
            results = self._record(records)
        except Exception as exc:
            if database_unavailable(exc) or isinstance(exc, ServiceUnavailableError):
                for job in jobs:
                    _settle(job, exc)
                return
            # nothing was written: each again on its own, so an error stays with its request
            log.info(
                "scoring.merged_write_failed",
                extra={"requests": len(jobs), "error": type(exc).__name__},
            )
            start = 0
            for job in jobs:
                _settle(job, _attempt(self._record, records[start : start + len(job.uploads)]))
                start += len(job.uploads)
            return
        outcomes: list[_Outcome] = []
        start = 0
        for job in jobs:
            outcomes.append((job, results[start : start + len(job.uploads)]))
            start += len(job.uploads)
        _settle_all(outcomes)

    def _score(self, uploads: Sequence[Upload]) -> list[Scored]:
        return self._record(self._assess(uploads))


def _chars(video: Video) -> int:
    transcript = video.transcript
    spoken = (
        len(transcript) if isinstance(transcript, str) else sum(len(s.text) for s in transcript)
    )
    return len(video.title) + len(video.description) + sum(map(len, video.hashtags)) + spoken


def _taken_up(jobs: Sequence[_Job]) -> None:
    """A round's jobs stop waiting: each one's wait is observed, once, from its arrival (a
    job carried over from an earlier round included)."""
    now = time.monotonic()
    for job in jobs:
        metrics.observe_scoring_wait(now - job.queued_at)
    metrics.count_scoring_waiting(-sum(len(job.uploads) for job in jobs))


def _attempt(
    decide: Callable[[Sequence[T]], list[Scored]], argument: Sequence[T]
) -> list[Scored] | Exception:
    try:
        return decide(argument)
    except Exception as exc:
        return exc


def _settle(job: _Job, outcome: list[Scored] | BaseException) -> None:
    _settle_all([(job, outcome)])


def _settle_all(outcomes: Sequence[_Outcome]) -> None:
    """Hand each job its outcome on its event loop: one wake-up of a loop for all of its jobs
    in a round (call_soon_threadsafe writes to the loop's wake-up pipe each time)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for job, outcome in outcomes:
        by_loop.setdefault(job.future.get_loop(), []).append((job, outcome))
    for loop, settled in by_loop.items():
        # a closed event loop raises RuntimeError: nobody is waiting for these answers any more
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_set_outcomes, settled)


def _set_outcomes(outcomes: Sequence[_Outcome]) -> None:
    for job, outcome in outcomes:
        if job.future.done():  # cancelled: its handler stopped waiting
            continue
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)
