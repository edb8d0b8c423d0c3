"""Queue names and the languages they serve.

A queue is ``<kind>:<language>:<priority>``, e.g. ``review:ur:high`` or ``appeals:en:normal``.
Languages are a configured set (BCP 47 tags such as ``en``, ``ur``, ``ur-Latn``): a video's
language goes to the most specific configured tag that covers it (``ur-PK`` -> ``ur``), and
anything else to ``other``, so arbitrary language tags in requests cannot create queues.
"""

from __future__ import annotations

from collections.abc import Sequence

from review_queue.priority import PRIORITY_ORDER, Priority

OTHER = "other"


def queue_name(kind: str, language: str, priority: Priority) -> str:
    return f"{kind}:{language}:{priority.value}"


def split_queue_name(name: str) -> tuple[str, str, Priority]:
    kind, language, priority = name.split(":")
    return kind, language, Priority(priority)


def _covers(language_range: str, tag: str) -> bool:
    """RFC 4647 basic filtering: ``ur`` covers ``ur``, ``ur-Latn`` and ``ur-PK``."""
    language_range, tag = language_range.lower(), tag.lower()
    return tag == language_range or tag.startswith(language_range + "-")


def queue_language(tag: str, languages: Sequence[str]) -> str:
    """The configured language whose queues take a video in ``tag``."""
    covering = [language for language in languages if _covers(language, tag)]
    return max(covering, key=len) if covering else OTHER


def claimable_languages(ranges: Sequence[str], languages: Sequence[str]) -> list[str]:
    """The queue languages a moderator with these language ranges may claim from, in the
    moderator's order. No ranges: every language, ``other`` included."""
    if not ranges:
        return [*languages, OTHER]
    chosen: list[str] = []
    for language_range in ranges:
        for language in languages:
            if _covers(language_range, language) and language not in chosen:
                chosen.append(language)
    return chosen


def claim_order(kind: str, languages: Sequence[str]) -> list[list[str]]:
    """Queue names grouped by priority band, highest first; within a band, language order."""
    return [[queue_name(kind, language, band) for language in languages] for band in PRIORITY_ORDER]
