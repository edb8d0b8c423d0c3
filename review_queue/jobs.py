"""The function an RQ review job names. A person does review jobs, never an RQ worker.

Review items are real RQ jobs so that ``rq info`` and rq-dashboard show the review queues as
they are. No worker should listen on a review queue; if one does, this raises, the job lands
in RQ's failed registry, and ``mizan reconcile`` puts the item back in its queue.
"""

from __future__ import annotations

HUMAN_REVIEW = "review_queue.jobs.human_review"


def human_review(video_id: str, revision: int) -> None:
    raise RuntimeError(
        f"review item for video {video_id} revision {revision} was taken by an RQ worker: "
        "review queues are for people (POST /v1/review/claim); run `mizan reconcile`"
    )
