"""How urgent a review item is: bands that grow with the score, the views and the user reports.

Each band is its own RQ queue (``review:ur:high``), so ``rq info`` shows how much urgent work
waits. Exposure drives urgency: a video many people are watching, or that several people have
reported, is looked at before a quiet borderline one.
"""

from __future__ import annotations

import enum
import math


class Priority(enum.StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# Claimed in this order.
PRIORITY_ORDER = (Priority.HIGH, Priority.NORMAL, Priority.LOW)

# urgency = score + VIEW_WEIGHT * log10(1 + views) + REPORT_WEIGHT * reports
# A borderline score alone (0.3) is low; a confident one (0.8) normal; 1,000 views (+0.75) or
# three user reports (+1.5) make most items high.
VIEW_WEIGHT = 0.25
REPORT_WEIGHT = 0.5
HIGH_FROM = 1.5
NORMAL_FROM = 0.5


def urgency(score: float, views: int, reports: int) -> float:
    return score + VIEW_WEIGHT * math.log10(1 + max(views, 0)) + REPORT_WEIGHT * max(reports, 0)


def priority_for(score: float, views: int, reports: int) -> Priority:
    value = urgency(score, views, reports)
    if value >= HIGH_FROM:
        return Priority.HIGH
    if value >= NORMAL_FROM:
        return Priority.NORMAL
    return Priority.LOW
