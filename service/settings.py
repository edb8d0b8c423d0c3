"""Settings read from the environment. The only module that reads ``os.environ``.

Entry points read them once and pass them down; nothing reads them at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The labeled data is not ours to commit: it lives beside the project by default.
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data" / "moderation"


def default_data_dir() -> Path:
    """MIZAN_DATA_DIR, else ../shared/data/moderation next to the project."""
    return Path(os.environ.get("MIZAN_DATA_DIR") or DEFAULT_DATA_DIR)
