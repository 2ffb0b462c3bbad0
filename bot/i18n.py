"""Gettext catalogs from `locales/<lang>/LC_MESSAGES/bot.po`, compiled in memory at start.

Message ids are stable keys ("menu.prompt"); strings use `{name}` placeholders.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.core import UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)
_formatter = string.Formatter()


def placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in _formatter.parse(template) if name)


class Catalogs:
    """All locales' strings. `t()` falls back to the default locale, then to the key."""

    def __init__(self, locales_dir: Path, default_locale: str) -> None:
        self.default_locale = default_locale
        self._strings: dict[str, dict[str, str]] = {}
        for po_path in sorted(locales_dir.glob("*/LC_MESSAGES/bot.po")):
            lang = po_path.parent.parent.name
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=None)
            self._strings[lang] = {
                str(message.id): str(message.string)
                for message in catalog
                if message.id and message.string and not message.fuzzy
            }
        if default_locale not in self._strings:
            raise ValueError(f"no catalog for the default locale {default_locale!r}")

    @property
    def locales(self) -> tuple[str, ...]:
        rest = sorted(lang for lang in self._strings if lang != self.default_locale)
        return (self.default_locale, *rest)

    def keys(self, locale: str) -> frozenset[str]:
        return frozenset(self._strings.get(locale, {}))

    def template(self, locale: str, key: str) -> str | None:
        return self._strings.get(locale, {}).get(key) or self._strings[self.default_locale].get(key)

    def normalize_locale(self, locale: str | None) -> str:
        return locale if locale in self._strings else self.default_locale

    def t(self, locale: str, key: str, params: Mapping[str, object] | None = None) -> str:
        template = self.template(locale, key)
        if template is None:
            log.error("missing catalog key %s", key)
            return key
        try:
            return template.format_map(dict(params or {}))
        except (KeyError, IndexError, ValueError):
            log.exception("catalog key %s could not be formatted", key)
            return template

    def when(
        self, locale: str, moment: datetime, zone: ZoneInfo, key: str = "format.datetime"
    ) -> str:
        """A moment in the office's zone, in the pattern the catalog gives for `key`.

        The pattern is CLDR (Babel), e.g. "EEEE, d MMMM y 'pukul' HH.mm", so each language
        says dates its own way and the pattern is a translator's choice, not code.
        """
        pattern = self.template(locale, key) or "yyyy-MM-dd HH:mm"
        local = moment.astimezone(zone)
        try:
            return format_datetime(local, pattern, tzinfo=zone, locale=locale)
        except (UnknownLocaleError, ValueError):
            return format_datetime(local, pattern, tzinfo=zone, locale=self.default_locale)
