"""The strikes part of the policy file: how long a strike stays active, and which account
action a number of active strikes leads to (service/creators.py applies them)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import ConfigurationError


class AccountAction(enum.StrEnum):
    WARNING = "warning"
    UPLOAD_RESTRICTION = "upload_restriction"
    BAN = "ban"


@dataclass(frozen=True, slots=True)
class Threshold:
    strikes: int
    action: AccountAction
    days: int | None = None  # how long it lasts; None: until lifted


@dataclass(frozen=True, slots=True)
class StrikePolicy:
    window: dt.timedelta
    thresholds: tuple[Threshold, ...]

    @classmethod
    def parse(cls, body: Mapping[str, Any], source: str) -> StrikePolicy:
        try:
            thresholds = tuple(
                Threshold(
                    int(row["strikes"]),
                    AccountAction(row["action"]),
                    int(row["days"]) if row.get("days") is not None else None,
                )
                for row in body.get("actions", [])
            )
            window = dt.timedelta(days=int(body.get("window_days", 90)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"{source}: strikes: {exc}") from exc
        if window <= dt.timedelta(0) or any(t.strikes < 1 for t in thresholds):
            raise ConfigurationError(f"{source}: strikes need a positive window and counts")
        return cls(window, tuple(sorted(thresholds, key=lambda t: t.strikes)))
