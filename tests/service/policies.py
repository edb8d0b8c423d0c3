"""Policy files for tests."""

from __future__ import annotations

import re
from pathlib import Path


def without_account_actions(policy_file: Path) -> str:
    """The policy's text without its ``[[strikes.actions]]``: every test video has the same
    creator, so with them most removals would also warn, restrict or ban, adding events and
    webhooks that tests of other things would have to count. test_creators.py (and the
    servers that tests start, through MIZAN_POLICY_FILE) use what this returns; the creator
    tests use the shipped file."""
    text = policy_file.read_text(encoding="utf-8")
    return re.sub(r"\[\[strikes\.actions\]\]\n(?:[a-z_]+ = [^\n]*\n)*\n?", "", text)
