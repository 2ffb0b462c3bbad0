"""Settings rules, and the text cleaning and intent matching every step relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.intents import Intent, IntentMatcher
from bot.settings import PROJECT_ROOT, Settings
from bot.text import clean, fold, has_link, redact_id_numbers, typed_number


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_default_secret_is_refused_under_https() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        _settings(base_url="https://bansos.example.go.id")
    assert _settings(base_url="https://x.example", secret_key="a-long-random-value-1234567890")
    assert _settings(base_url="http://127.0.0.1:8000")


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s3cret")
    monkeypatch.setenv("TIMEZONE", "Asia/Makassar")
    settings = _settings()
    assert settings.database_url.startswith("postgresql")
    assert settings.telegram_api_url == "http://127.0.0.1:9999"
    assert settings.whatsapp_app_secret is not None
    assert "s3cret" not in repr(settings)
    assert settings.zone.key == "Asia/Makassar"
    assert not settings.telegram_enabled and not settings.whatsapp_enabled


def test_unknown_timezone_or_locale_is_refused() -> None:
    with pytest.raises(ValidationError):
        _settings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        _settings(default_locale="xx")


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("cek stauts", Intent.STATUS),
        ("lapor pungli", Intent.REPORT),
        ("daftar pelatiahn", Intent.TRAINING),
        ("jadwal bansos", Intent.SCHEDULE),
        ("Jadwal  Bansos!!", Intent.SCHEDULE),
        ("berapa biaya pendaftaran", Intent.SCAM),
        ("check status", Intent.STATUS),
        ("assalamualaikum", Intent.GREETING),
        ("makasih", Intent.THANKS),
    ],
)
def test_typos_still_land(typed: str, intent: Intent) -> None:
    match = IntentMatcher(PROJECT_ROOT / "locales").match(typed)
    assert match is not None and match.intent is intent


@pytest.mark.parametrize(
    ("typed", "intent"),
    [
        ("MENU", Intent.MENU),
        ("/batal", Intent.CANCEL),
        ("cancel", Intent.CANCEL),
        ("Bantuan", Intent.HELP),
        ("help", Intent.HELP),
        ("bahasa", Intent.LANGUAGE),
        ("language", Intent.LANGUAGE),
    ],
)
def test_global_words_in_both_languages(typed: str, intent: Intent) -> None:
    assert IntentMatcher(PROJECT_ROOT / "locales").command(typed) is intent


def test_names_are_not_mistaken_for_intents() -> None:
    matcher = IntentMatcher(PROJECT_ROOT / "locales")
    for text in ("Budi Santoso", "3307015708450001", "RT 003 RW 002", "qwerty"):
        assert matcher.match(text) is None, text


def test_clean_removes_invisible_and_bidi_characters() -> None:
    assert clean("  m\u200benu\u202e ") == "menu"
    assert clean("\ufeffHalo\u00a0\u00a0kak") == "Halo kak"
    assert fold("Cek STATUS!!! 🙏") == "cek status"


def test_id_numbers_are_redacted_but_short_numbers_are_not() -> None:
    assert redact_id_numbers("3307015708450001") == "3307********0001"
    assert redact_id_numbers("nik 3307-0157-0845-0001.") == "nik 3307********0001."
    assert redact_id_numbers("RT 003 RW 002, HP 081234567890") == "RT 003 RW 002, HP 081234567890"
    # A NIK mistyped by a digit or two is masked too; longer numbers are something else.
    assert redact_id_numbers("33070157084500011") == "3307*********0011"
    # an O typed for a 0 (or I for 1) does not let a NIK through unmasked
    assert redact_id_numbers("33079945058O9001") == "3307********9001"
    assert redact_id_numbers("NIK 3307 9945 0580 9OO1 ok") == "NIK 3307********9OO1 ok"
    assert redact_id_numbers("1000 Orang, 2000 Ibu") == "1000 Orang, 2000 Ibu"
    assert redact_id_numbers("330701570845001") == "3307*******5001"
    assert redact_id_numbers("3307015708450001123") == "3307015708450001123"


def test_links_and_numbers() -> None:
    assert has_link("klik https://bansos-cair.xyz sekarang")
    assert has_link("daftar di bit.ly/abc")
    assert has_link("www.bansos.info")
    assert not has_link("saya warga desa sukamaju rt 3")
    assert typed_number(" 2. ") == 2
    assert typed_number("2 anak") is None


@given(st.text(max_size=300))
def test_clean_is_total_and_idempotent(raw: str) -> None:
    once = clean(raw)
    assert clean(once) == once
    fold(raw)
    has_link(raw)
