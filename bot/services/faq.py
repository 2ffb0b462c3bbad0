"""FAQ answers from `locales/<lang>/faq.toml`, a data file the deploying office edits.

Retrieval is rapidfuzz over each question and its keywords, so a resident's own words
("ibu saya lansia dapat pkh?") find the closest answer. Only words that carry a topic can
make a match: the files' `stop_words` (yes, no, ok, pak, bu, saya…) are set aside, and a
word too short to have a typo ("Ani") must be one the FAQ uses. A message with no such
word ("ok", "ya pak", "no") finds nothing, so the resident is told the bot did not
understand instead of being given an unrelated answer.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.text import fold

# Words shorter than this are matched exactly or not at all: "pak" with one letter changed
# is another word ("pkh"), not a typo of it.
MIN_FUZZY_WORD = 5
# A word at least this close to one the FAQ uses is read as that word ("lansi" → "lansia").
TYPO_SCORE = 85.0
# A keyword found with typos counts a little less than one typed as listed.
FUZZY_KEYWORD_PENALTY = 8.0
# A multi-word keyword typed exactly: the office's own phrase for this entry.
PHRASE_SCORE = 92.0


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

    questions: dict[str, str]
    words: dict[str, frozenset[str]]
    weight: dict[str, float]
    # The FAQ's words that can name a topic, and (sorted) what a mistyped word becomes.
    vocabulary: frozenset[str]
    spellings: tuple[str, ...]
    # The most words in one keyword: longer runs of the query never need comparing.
    longest_keyword: int


@dataclass(frozen=True, slots=True)
class _Query:
    """What the resident typed, folded, with the words that carry a topic picked out."""

    text: str
    words: tuple[str, ...]
    content: tuple[str, ...]
    # Runs of n consecutive words holding at least one content word, by n.
    windows: dict[int, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class FaqHit:
    entry: FaqEntry
    score: float


class FaqBook:
    """All locales' FAQ entries; falls back to the default locale's when one is missing.

    Stop words are shared by all locales, because residents mix languages.
    """

    def __init__(self, locales_dir: Path, default_locale: str) -> None:
        self.default_locale = default_locale
        self._entries: dict[str, tuple[FaqEntry, ...]] = {}
        self._index: dict[str, _Index] = {}
        stop_words: set[str] = set()
        for path in sorted(locales_dir.glob("*/faq.toml")):
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
            stop_words.update(fold(str(word)) for word in raw.get("stop_words", []))
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
        self.stop_words = frozenset(stop_words)
        for lang, entries in self._entries.items():
            words = {entry.id: _entry_words(entry) for entry in entries}
            frequency: dict[str, int] = {}
            for entry_words in words.values():
                for word in entry_words:
                    frequency[word] = frequency.get(word, 0) + 1
            self._index[lang] = _Index(
                questions={entry.id: fold(entry.question) for entry in entries},
                words=words,
                weight={word: 1.0 / count for word, count in frequency.items()},
                vocabulary=frozenset(frequency) - self.stop_words,
                spellings=tuple(sorted(frozenset(frequency) - self.stop_words)),
                longest_keyword=max(
                    (len(k.split()) for entry in entries for k in entry.keywords), default=1
                ),
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
        """The closest entries, best first; none when the text names no topic at all."""
        candidates = self.entries(locale) if only is None else only
        index = self._locale_index(locale)
        if not candidates or index is None:
            return []
        query = self._query(fold(text), index)
        if not query.content:
            return []
        ranked = [(_rank(query, entry, index), entry) for entry in candidates]
        ranked.sort(key=lambda hit: hit[0], reverse=True)
        return [FaqHit(entry, rank[0]) for rank, entry in ranked[:limit]]

    def _query(self, text: str, index: _Index) -> _Query:
        """The words typed, mistyped ones corrected, and which of them can name a topic:
        not a stop word, and either long enough to carry a typo or a word the FAQ uses.
        "ok", "ya pak" and "Ani" name none."""
        words: list[str] = []
        content: list[str] = []
        for word in text.split():
            if word in self.stop_words or not any(ch.isalpha() for ch in word):
                words.append(word)
                continue
            if word not in index.vocabulary and len(word) >= MIN_FUZZY_WORD:
                found = process.extractOne(
                    word, index.spellings, scorer=fuzz.ratio, score_cutoff=TYPO_SCORE
                )
                word = found[0] if found is not None else word
            words.append(word)
            if (word in index.vocabulary or len(word) >= MIN_FUZZY_WORD) and word not in content:
                content.append(word)
        return _with_windows(tuple(words), tuple(content), index.longest_keyword + 1)

    def _locale_index(self, locale: str) -> _Index | None:
        return self._index.get(locale) or self._index.get(self.default_locale)


def _entry_words(entry: FaqEntry) -> frozenset[str]:
    words = set(fold(entry.question).split())
    for keyword in entry.keywords:
        words.update(keyword.split())
    return frozenset(words)


def _with_windows(words: tuple[str, ...], content: tuple[str, ...], longest: int) -> _Query:
    meaningful = set(content)
    windows: dict[int, tuple[str, ...]] = {}
    for size in range(1, min(longest, len(words)) + 1):
        runs = (words[start : start + size] for start in range(len(words) - size + 1))
        found = {" ".join(run) for run in runs if meaningful.intersection(run)}
        windows[size] = tuple(sorted(found))
    return _Query(" ".join(words), words, content, windows)


def _near(keyword: str, query: _Query, cutoff: float) -> float:
    """How closely the keyword appears, typos allowed, as a run of the query's words;
    0 unless at least `cutoff`."""
    size = len(keyword.split())
    best = 0.0
    for length in (size - 1, size, size + 1):
        found = process.extractOne(
            keyword, query.windows.get(length, ()), scorer=fuzz.ratio, score_cutoff=cutoff
        )
        if found is not None:
            best = cutoff = max(best, float(found[1]))
    return best


def _rank(query: _Query, entry: FaqEntry, index: _Index) -> tuple[float, float, float]:
    """The score, then for equal scores: the share of the query's topic words the entry
    has, then how close the question is to the whole message, stop words included
    ("bansos saya belum cair" is about aid not paid yet, not about aid stopped)."""
    question = index.questions.get(entry.id) or fold(entry.question)
    shared = frozenset(query.content) & index.words.get(entry.id, frozenset())
    score = _score(query, entry, question, shared, index)
    coverage = len(shared) / len(query.content)
    return score, coverage, float(fuzz.token_set_ratio(query.text, question))


def _score(
    query: _Query, entry: FaqEntry, question: str, shared: frozenset[str], index: _Index
) -> float:
    """Similarity to the question, the weight of the rare words both share, or a keyword."""
    best = float(fuzz.ratio(query.text, question))
    if len(query.content) >= 2:
        # All of the query's topic words found in the question scores 100 (token_set_ratio's
        # subset rule); for a single word ("tidak", "desa") that would be a coincidence.
        best = max(best, float(fuzz.token_set_ratio(" ".join(query.content), question)))
    # A word the office listed as a keyword says more than one found in the question;
    # a single shared word that is not a keyword is not enough on its own.
    if len(shared) >= 2 or shared.intersection(entry.keywords):
        evidence = sum(
            index.weight.get(word, 0.0) * (2.0 if word in entry.keywords else 1.0)
            for word in shared
        )
        best = max(best, 60.0 + 30.0 * evidence)
    padded = f" {query.text} "
    for keyword in entry.keywords:
        if " " in keyword and f" {keyword} " in padded:
            best = max(best, PHRASE_SCORE)
        elif len(keyword) >= MIN_FUZZY_WORD and keyword not in query.words:
            near = _near(keyword, query, min(100.0, best + FUZZY_KEYWORD_PENALTY))
            best = max(best, near - FUZZY_KEYWORD_PENALTY)
    return best
