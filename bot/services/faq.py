"""FAQ answers from `locales/<lang>/faq.toml`, a data file the deploying office edits.

Retrieval is rapidfuzz over each question and its keywords, so a resident's own words
("ibu saya lansia dapat pkh?") find the closest answer.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from bot.text import fold


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    keywords: tuple[str, ...]
    intents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaqHit:
    entry: FaqEntry
    score: float


class FaqBook:
    """All locales' FAQ entries; falls back to the default locale's when one is missing."""

    def __init__(self, locales_dir: Path, default_locale: str) -> None:
        self.default_locale = default_locale
        self._entries: dict[str, tuple[FaqEntry, ...]] = {}
        for path in sorted(locales_dir.glob("*/faq.toml")):
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
            self._entries[path.parent.name] = tuple(
                FaqEntry(
                    id=str(item["id"]),
                    question=str(item["question"]).strip(),
                    answer=str(item["answer"]).strip(),
                    keywords=tuple(fold(k) for k in item.get("keywords", [])),
                    intents=tuple(item.get("intents", [])),
                )
                for item in raw.get("entry", [])
            )

    def entries(self, locale: str) -> tuple[FaqEntry, ...]:
        return self._entries.get(locale) or self._entries.get(self.default_locale, ())

    def get(self, locale: str, entry_id: str) -> FaqEntry | None:
        return next((e for e in self.entries(locale) if e.id == entry_id), None)

    def for_intent(self, locale: str, intent: str) -> tuple[FaqEntry, ...]:
        return tuple(e for e in self.entries(locale) if intent in e.intents)

    def best_for_intent(self, locale: str, intent: str, text: str) -> FaqEntry | None:
        """The entry on this topic closest to what the resident typed."""
        hits = self.search(locale, text, limit=1, only=self.for_intent(locale, intent))
        return hits[0].entry if hits else None

    def search(
        self, locale: str, text: str, limit: int = 3, only: tuple[FaqEntry, ...] | None = None
    ) -> list[FaqHit]:
        query = fold(text)
        candidates = self.entries(locale) if only is None else only
        if not query or not candidates:
            return []
        hits = [FaqHit(entry, _score(query, entry)) for entry in candidates]
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:limit]


def _score(query: str, entry: FaqEntry) -> float:
    question = fold(entry.question)
    best = max(fuzz.token_set_ratio(query, question), fuzz.ratio(query, question))
    query_words = set(query.split())
    for keyword in entry.keywords:
        if keyword in query_words or (" " in keyword and keyword in query):
            best = max(best, 92.0)
        elif len(keyword) >= 4:
            best = max(best, fuzz.partial_ratio(keyword, query) - 8)
    return float(best)
