"""Free text → intent, with rapidfuzz so typos still land ("cek stauts", "daftar pelatiahn").

Keywords are data, per locale, in `locales/<lang>/intents.toml`; every locale's words are
active for every resident, because residents mix languages.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.text import fold


class Intent(StrEnum):
    MENU = "menu"
    CANCEL = "cancel"
    HELP = "help"
    LANGUAGE = "language"
    NEWS_STOP = "news_stop"
    NEWS_START = "news_start"
    FAQ = "faq"
    SCAM = "scam"
    PRIVACY = "privacy"
    STATUS = "status"
    REPORT = "report"
    TRACK = "track"
    TRAINING = "training"
    SCHEDULE = "schedule"
    REGISTER = "register"
    GREETING = "greeting"
    THANKS = "thanks"


# Words that work at every step, typed exactly (a slash in front is allowed).
GLOBAL_COMMANDS = frozenset({Intent.MENU, Intent.CANCEL, Intent.HELP, Intent.LANGUAGE})
# Shorter than this, a text or a phrase matches only as typed: "hadi" is a name, not "hai"
# mistyped. Common spellings of a short phrase belong in intents.toml ("halo", "hallo").
MIN_FUZZY_LENGTH = 5


@dataclass(frozen=True, slots=True)
class IntentMatch:
    intent: Intent
    score: float
    phrase: str


class IntentMatcher:
    def __init__(self, locales_dir: Path, threshold: float = 82.0) -> None:
        self.threshold = threshold
        self._commands: dict[str, Intent] = {}
        self._phrases: list[str] = []
        self._phrase_intents: list[Intent] = []
        for path in sorted(locales_dir.glob("*/intents.toml")):
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            for name, words in data.get("commands", {}).items():
                for word in words:
                    self._commands[fold(word)] = Intent(name)
            for name, phrases in data.get("phrases", {}).items():
                for phrase in phrases:
                    self._phrases.append(fold(phrase))
                    self._phrase_intents.append(Intent(name))

    def command(self, text: str) -> Intent | None:
        """An exact global word: 'menu', '/batal', 'Help!'."""
        return self._commands.get(fold(text.lstrip("/")))

    def match(self, text: str) -> IntentMatch | None:
        folded = fold(text)
        if not folded:
            return None
        command = self._commands.get(folded)
        if command is not None:
            return IntentMatch(command, 100.0, folded)
        found = process.extractOne(
            folded, self._phrases, scorer=_score, score_cutoff=self.threshold
        )
        if found is None:
            return None
        phrase, score, index = found
        return IntentMatch(self._phrase_intents[index], score, phrase)


def _score(text: str, phrase: str, **_: object) -> float:
    """Whole-text similarity, or the phrase appearing (with typos) inside a longer text."""
    if min(len(text), len(phrase)) < MIN_FUZZY_LENGTH:
        return 100.0 if text == phrase else 0.0
    whole = fuzz.ratio(text, phrase)
    if len(text) > len(phrase) + 3:
        return max(whole, fuzz.partial_ratio(phrase, text) - 4)
    return max(whole, fuzz.token_sort_ratio(text, phrase))
