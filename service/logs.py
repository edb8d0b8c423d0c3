"""Structured logging: one JSON object per line, the message a stable ``noun.past_verb`` event.

Entry points call `configure()`; library code only does ``logging.getLogger(__name__)``.
Every ``extra`` key becomes a field. Never log raw content or keys, only ids and hashes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys

# Attributes every LogRecord has; anything else on a record came from ``extra`` (but for
# uvicorn's color_message: its message again, with terminal colour codes).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def level_from_environment() -> int:
    """MIZAN_LOG_LEVEL: debug (adds a line per decision), info (the default) or warning. Read
    from the environment, not Settings: logging is set up before settings are loaded, and a
    server's worker processes set it up again from the level they are given."""
    name = os.environ.get("MIZAN_LOG_LEVEL", "info").strip().lower()
    if name not in LEVELS:
        raise ValueError(f"MIZAN_LOG_LEVEL={name!r}: expected one of {', '.join(LEVELS)}")
    return LEVELS[name]


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Chatty libraries: their INFO lines (every migration plugin, every HTTP request) are noise.
    for name in ("alembic", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
