"""All configuration, read from the environment and `.env` (DESIGN.md section 5)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-only-change-me"  # noqa: S105 - the refused default, not a secret
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# WhatsApp template names per purpose (README "WhatsApp templates" gives their bodies).
DEFAULT_WHATSAPP_TEMPLATES = {
    "report_update": "bansos_kabar_laporan",
    "training_reminder": "bansos_pengingat_pelatihan",
    "training_offer": "bansos_tawaran_kursi",
    "schedule": "bansos_jadwal_penyaluran",
    "distribution_check": "bansos_sudah_terima",
    "notice": "bansos_pemberitahuan",
}


class Settings(BaseSettings):
    """One settings object; secrets are `SecretStr` and never printed."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///var/bansos.sqlite3"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    base_url: str | None = None
    default_locale: str = "id"
    timezone: str = "Asia/Jakarta"

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None
    telegram_officer_chat_id: int | None = None
    # Outbound limits (Telegram: about 30 messages/s per bot, 1/s per chat with short bursts).
    # (Above the platform's limits only for benchmarks against the fake servers.)
    telegram_messages_per_second: float = Field(default=30.0, gt=0, le=10_000)
    telegram_chat_burst: int = Field(default=3, ge=1, le=20)
    telegram_chat_seconds: float = Field(default=1.0, ge=0, le=60)
    # A message a crashed instance had claimed is sent again after this long (Telegram
    # cannot say whether it went out: see "Crash safety" in the README).
    telegram_reclaim_seconds: float = Field(default=15.0, ge=0, le=3600)

    whatsapp_access_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = Field(default="23.0", pattern=r"^\d+\.\d+$")
    # Outbound limits: Cloud API throughput per phone number (80/s by default, up to 1,000
    # once Meta raises it) and the pair rate, about one message per 6 s to one person with
    # short bursts allowed.
    whatsapp_messages_per_second: float = Field(default=80.0, gt=0, le=10_000)
    whatsapp_pair_burst: int = Field(default=10, ge=1, le=45)
    whatsapp_pair_seconds: float = Field(default=6.0, ge=0, le=60)
    # How long a crashed instance's claimed messages wait for their status webhook (which
    # proves they went out) before they are sent again.
    whatsapp_reclaim_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Approved templates for messages outside the 24-hour window, per purpose and locale:
    # {"report_update": {"id": "bansos_kabar_laporan:id", "en": "bansos_kabar_laporan:en"}}.
    whatsapp_templates: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            purpose: {"id": f"{name}:id", "en": f"{name}:en"}
            for purpose, name in DEFAULT_WHATSAPP_TEMPLATES.items()
        }
    )

    media_dir: Path = Path("var/media")
    locales_dir: Path = PROJECT_ROOT / "locales"

    office_name: str = "Kantor Kecamatan Sukamaju"
    office_contact: str = "0286-000000"
    data_retention_months: int = Field(default=24, ge=1, le=120)
    conversation_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    max_message_chars: int = Field(default=2000, ge=100, le=4096)

    # The kecamatan and its villages (Kemendagri code → name), as JSON in the environment:
    # VILLAGES='{"3307992001": "Sukamaju"}'. The registry import adds the villages it sees.
    kecamatan_name: str = "Sukamaju (fiktif)"
    villages: dict[str, str] = Field(default_factory=dict)

    # Aid status look-ups: limits that make NIK harvesting slow and visible.
    status_failed_per_hour: int = Field(default=5, ge=1, le=1000)
    status_lookups_per_day: int = Field(default=20, ge=1, le=10000)
    status_identities_per_nik_per_day: int = Field(default=3, ge=1, le=100)

    # Reports: evidence limits and SLA clocks in working days (LAPOR! defaults).
    evidence_max_files: int = Field(default=5, ge=0, le=20)
    evidence_max_mb: int = Field(default=10, ge=1, le=100)
    report_min_chars: int = Field(default=20, ge=1, le=500)
    sla_verify_days: int = Field(default=3, ge=1, le=60)
    sla_follow_up_days: int = Field(default=5, ge=1, le=60)
    sla_auto_close_days: int = Field(default=10, ge=1, le=120)
    # Per report type, e.g. {"potongan": {"verify": 1, "follow_up": 3}}.
    sla_by_type: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Training: hours a promoted resident has to confirm a freed seat.
    training_offer_hours: int = Field(default=24, ge=1, le=24 * 14)
    # Dashboard sessions: ended after this long without use, and in any case after this.
    dashboard_idle_minutes: int = Field(default=30, ge=5, le=24 * 60)
    dashboard_session_hours: int = Field(default=12, ge=1, le=24 * 7)
    # Extra days off (cuti bersama) on top of national holidays: ["2026-12-24"].
    extra_days_off: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if (
            self.base_url
            and self.base_url.lower().startswith("https://")
            and self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
        ):
            raise ValueError(
                "SECRET_KEY is still the development default while BASE_URL is https: "
                "set a long random SECRET_KEY (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        if self.default_locale not in self.available_locales:
            raise ValueError(f"DEFAULT_LOCALE {self.default_locale!r} has no catalog in locales/")
        for code in self.villages:
            if not (code.isdigit() and len(code) == 10):
                raise ValueError(f"VILLAGES: {code!r} is not a 10-digit Kemendagri village code")
        for purpose, by_locale in self.whatsapp_templates.items():
            for locale, spec in by_locale.items():
                name, _, language = spec.partition(":")
                if not name or not language:
                    raise ValueError(
                        f"WHATSAPP_TEMPLATES[{purpose}][{locale}] must be 'name:language'"
                    )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"TIMEZONE {self.timezone!r} is not a known IANA zone") from None
        return self

    @property
    def available_locales(self) -> tuple[str, ...]:
        """Locales are catalog files, not code: every `locales/<lang>/LC_MESSAGES/bot.po`."""
        found = sorted(p.parent.parent.name for p in self.locales_dir.glob("*/LC_MESSAGES/bot.po"))
        default = [lang for lang in found if lang == "id"]
        return tuple(default + [lang for lang in found if lang != "id"])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def telegram_webhook_token(self) -> str:
        """The secret Telegram sends with each webhook call: TELEGRAM_WEBHOOK_SECRET, or,
        when that is unset, one derived from SECRET_KEY, so a webhook is never left
        unprotected nor every genuine update refused."""
        if self.telegram_webhook_secret is not None:
            return self.telegram_webhook_secret.get_secret_value()
        key = self.secret_key.get_secret_value().encode()
        return hmac.new(key, b"telegram-webhook", hashlib.sha256).hexdigest()

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def whatsapp_enabled(self) -> bool:
        return all(
            (
                self.whatsapp_access_token,
                self.whatsapp_phone_number_id,
                self.whatsapp_app_secret,
                self.whatsapp_verify_token,
            )
        )
