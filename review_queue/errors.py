"""The review queues' errors (the queue reports a missing lease by a False result, not by
raising; Redis failures arrive as redis.exceptions.RedisError).

QueueError
"""

from __future__ import annotations


class QueueError(Exception):
    """Base of every error raised by review_queue/."""
