"""What a committed write asks of Redis, applied after commit by service/dispatch.py: queue
changes, review items that no longer need a decision, webhooks to deliver. Reconcile redoes
any that fail, so an effect lost in a crash is only late, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from review_queue import Priority
from service.domain import Appeal, AuditItem, ReviewItem


@dataclass(frozen=True, slots=True)
class QueueChange:
    """An open item to put in (or move within) its queues, with what sets its priority."""

    item: ReviewItem | Appeal | AuditItem
    views: int
    reports: int
    priority: Priority | None = (
        None  # fixed priority (appeals, audits); else from score and exposure
    )


@dataclass
class Effects:
    queue: list[QueueChange] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # review items superseded by an edit
    deliveries: list[str] = field(default_factory=list)  # outbox event ids
