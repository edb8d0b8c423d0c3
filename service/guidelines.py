"""The Community Guidelines as creators read them, and the notices written from them.

The catalogue ships in the policy file (``[guidelines.<language>]``): per language, the
sentences every notice uses and, per policy label, the area, a plain summary of the rule and
what the creator can do. A notice is written in the video's language when the catalogue has
it, else in English. Matching follows BCP 47 lookup (RFC 4647 section 3.4: ``ur-PK`` finds
``ur``) except that a tag naming a script only matches that script: Roman Urdu (``ur-Latn``)
is not shown Urdu script, it gets English until the catalogue has ``ur-Latn``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.errors import ConfigurationError

FALLBACK = "en"
RTL_SCRIPTS = {"Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Rohg"}
RTL_LANGUAGES = {"ar", "ur", "fa", "ps", "sd", "he", "yi", "dv", "ug", "ckb"}
SENTENCES = (
    "removal",
    "restoration",
    "appeal_upheld",
    "decided_by_machine",
    "decided_by_person",
    "appeal_until",
)
LABEL_FIELDS = ("area", "summary", "what_you_can_do")
# A language's usual script: naming it (ur-Arab) is the same as not naming one (ur).
USUAL_SCRIPT = {"ur": "arab", "en": "latn", "ar": "arab", "fa": "arab", "ps": "arab", "sd": "arab"}


@dataclass(frozen=True, slots=True)
class LabelGuideline:
    area: str
    summary: str
    what_you_can_do: str


@dataclass(frozen=True, slots=True)
class LanguageGuidelines:
    language: str
    sentences: Mapping[str, str]
    labels: Mapping[str, LabelGuideline]

    @property
    def direction(self) -> str:
        return direction_of(self.language)


def direction_of(language: str) -> str:
    """``rtl`` for a right-to-left language or script, else ``ltr``."""
    parts = language.split("-")
    script = next((p for p in parts[1:] if len(p) == 4), None)
    if script is not None:
        return "rtl" if script.title() in RTL_SCRIPTS else "ltr"
    return "rtl" if parts[0].lower() in RTL_LANGUAGES else "ltr"


@dataclass(frozen=True, slots=True)
class Catalogue:
    languages: Mapping[str, LanguageGuidelines]

    @classmethod
    def parse(cls, body: Mapping[str, object], labels: list[str], source: str) -> Catalogue:
        """From the policy file's ``guidelines`` table; every language must cover every
        sentence and label, and English must be there (it is the fallback)."""
        languages: dict[str, LanguageGuidelines] = {}
        for language, entry in body.items():
            if not isinstance(entry, Mapping):
                raise ConfigurationError(f"{source}: guidelines.{language} is not a table")
            missing = [name for name in SENTENCES if not entry.get(name)]
            per_label = entry.get("labels") or {}
            if not isinstance(per_label, Mapping):
                raise ConfigurationError(f"{source}: guidelines.{language}.labels is not a table")
            missing += [f"labels.{label}" for label in labels if label not in per_label]
            missing += [
                f"labels.{label}.{name}"
                for label in labels
                if label in per_label
                for name in LABEL_FIELDS
                if not per_label[label].get(name)
            ]
            if missing:
                raise ConfigurationError(
                    f"{source}: guidelines.{language} lacks {', '.join(missing)}"
                )
            languages[language] = LanguageGuidelines(
                language,
                {name: str(entry[name]) for name in SENTENCES},
                {
                    label: LabelGuideline(*(str(per_label[label][f]) for f in LABEL_FIELDS))
                    for label in labels
                },
            )
        if FALLBACK not in languages:
            raise ConfigurationError(f"{source}: the guidelines need English ({FALLBACK})")
        return cls(languages)

    def for_language(self, language: str | None) -> LanguageGuidelines:
        """The catalogue's best language for a video's language tag (English if none fits)."""
        return self.languages[self.match(language)]

    def match(self, language: str | None) -> str:
        if not language:
            return FALLBACK
        available = {tag.lower(): tag for tag in self.languages}
        parts = language.split("-")
        usual = USUAL_SCRIPT.get(parts[0].lower())
        has_script = any(len(p) == 4 and p.isalpha() and p.lower() != usual for p in parts[1:])
        while parts:
            candidate = "-".join(parts).lower()
            if candidate in available:
                return available[candidate]
            parts.pop()
            if has_script and len(parts) == 1:
                break  # never drop the script: a different script is not the same writing
        return FALLBACK
