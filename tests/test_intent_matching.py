"""Intent matching: short replies and first names are not mistaken for a journey."""

from __future__ import annotations

import pytest

from bot.intents import Intent, IntentMatcher
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def matcher() -> IntentMatcher:
    return IntentMatcher(PROJECT_ROOT / "locales")


@pytest.mark.parametrize(
    "typed",
    [
        "ok",
        "ya",
        "iya",
        "tidak",
        "gak",
        "pak",
        "bu",
        "ok pak",
        "Ani",
        "Budi",
        "Hadi",  # one letter off "hai"
        "Siti Aminah",
        "yes",
        "no",
        "okay",
        "Tambahan: kejadiannya hari Senin pagi di balai desa.",
    ],
)
def test_short_replies_and_names_are_no_intent(matcher: IntentMatcher, typed: str) -> None:
    assert matcher.match(typed) is None, matcher.match(typed)


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("halo", Intent.GREETING),
        ("Hallo!", Intent.GREETING),
        ("helo", Intent.GREETING),
        ("hey", Intent.GREETING),
        ("p", Intent.GREETING),
        ("info", Intent.FAQ),
        ("lapor", Intent.REPORT),
        ("lapr pungli", Intent.REPORT),
        ("jadwl bansos", Intent.SCHEDULE),
        ("mau ikut pelatihan menjahit pak", Intent.TRAINING),
        ("pak saya mau cek status", Intent.STATUS),
    ],
)
def test_short_phrases_match_as_listed_and_longer_ones_with_typos(
    matcher: IntentMatcher, typed: str, intent: Intent
) -> None:
    match = matcher.match(typed)
    assert match is not None and match.intent is intent, (typed, match)
