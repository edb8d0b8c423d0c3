"""The human-review and appeals queues on RQ over Redis: enqueue, claim, lease, release, finish.

Knows nothing of HTTP or of the decision log's tables: service/ decides what goes in and
records what comes out.
"""

from review_queue.errors import QueueError
from review_queue.names import OTHER, claimable_languages, queue_language, split_queue_name
from review_queue.priority import PRIORITY_ORDER, Priority, priority_for
from review_queue.queues import (
    ExpiredLease,
    Lease,
    Placement,
    QueuedItem,
    QueueStats,
    ReviewQueues,
)

__all__ = [
    "OTHER",
    "PRIORITY_ORDER",
    "ExpiredLease",
    "Lease",
    "Placement",
    "Priority",
    "QueueError",
    "QueueStats",
    "QueuedItem",
    "ReviewQueues",
    "claimable_languages",
    "priority_for",
    "queue_language",
    "split_queue_name",
]
