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
class _Index:
    """Per-locale word weights: a word found in few entries says more than a common one."""

    entries: tuple[FaqEntry, ...]
    words: tuple[frozenset[str], ...]
    weight: dict[str, float]


@dataclass(frozen=True, slots=True)
class FaqHit:
    entry: FaqEntry
    score: float


class FaqBook:
    """All locales' FAQ entries; falls back to the default locale's when one is missing."""

    def __init__(self, locales_dir: Path, default_locale: str) -> None:
        self.default_locale = default_locale
        self._entries: dict[str, tuple[FaqEntry, ...]] = {}
        self._index: dict[str, _Index] = {}
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
        for lang, entries in self._entries.items():
            words = tuple(_entry_words(entry) for entry in entries)
            frequency: dict[str, int] = {}
            for entry_words in words:
                for word in entry_words:
                    frequency[word] = frequency.get(word, 0) + 1
            weight = {word: 1.0 / count for word, count in frequency.items()}
            self._index[lang] = _Index(entries, words, weight)

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
        index = self._index.get(locale) or self._index.get(self.default_locale)
        hits = [FaqHit(entry, _score(query, entry, index)) for entry in candidates]
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:limit]


def _entry_words(entry: FaqEntry) -> frozenset[str]:
    words = set(fold(entry.question).split())
    for keyword in entry.keywords:
        words.update(keyword.split())
    return frozenset(words)


def _score(query: str, entry: FaqEntry, index: _Index | None) -> float:
    """Similarity to the question, or the weight of the rare words both share."""
    question = fold(entry.question)
    best = float(max(fuzz.token_set_ratio(query, question), fuzz.ratio(query, question)))
    query_words = set(query.split())
    if index is not None and entry in index.entries:
        shared = query_words & index.words[index.entries.index(entry)]
        # A word the office listed as a keyword says more than one found in the question.
        evidence = sum(
            index.weight.get(word, 0.0) * (2.0 if word in entry.keywords else 1.0)
            for word in shared
        )
        if evidence > 0:
            best = max(best, 60.0 + 30.0 * evidence)
    for keyword in entry.keywords:
        if " " in keyword and keyword in query:
            best = max(best, 92.0)
        elif len(keyword) >= 4 and keyword not in query_words:
            best = max(best, fuzz.partial_ratio(keyword, query) - 8)
    return best
