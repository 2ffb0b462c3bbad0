"""Everything a process builds once at start and hands down: no module-level state."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Catalogs
from bot.intents import IntentMatcher
from bot.metrics import Metrics
from bot.services.faq import FaqBook
from bot.services.pii import PiiVault
from bot.settings import Settings
from storage.db import Database


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    db: Database
    catalogs: Catalogs
    intents: IntentMatcher
    faq: FaqBook
    metrics: Metrics
    vault: PiiVault


def build_runtime(settings: Settings, db: Database | None = None) -> Runtime:
    return Runtime(
        settings=settings,
        db=db or Database(settings.database_url),
        catalogs=Catalogs(settings.locales_dir, settings.default_locale),
        intents=IntentMatcher(settings.locales_dir),
        faq=FaqBook(settings.locales_dir, settings.default_locale),
        metrics=Metrics(),
        vault=PiiVault(settings.secret_key.get_secret_value()),
    )
