"""The human-review and appeals queues on RQ over Redis: enqueue, claim, lease, release, finish.

Knows nothing of HTTP or of the decision log's tables (the review-queue issue fills this in).
"""
