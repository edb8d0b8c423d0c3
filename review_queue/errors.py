"""The review queues' errors.

QueueError
 +-- LeaseError   the caller does not hold a live lease on the item (or it is gone)
"""

from __future__ import annotations


class QueueError(Exception):
    """Base of every error raised by review_queue/."""


class LeaseError(QueueError):
    pass
