"""Language choice: Bahasa Indonesia by default; every catalog in locales/ is offered.

```mermaid
stateDiagram-v2
    [*] --> choose
    choose --> choose: unknown answer
    choose --> [*]: a language (to the menu, or back to the welcome)
```
"""

from __future__ import annotations

from enum import StrEnum

from rapidfuzz import fuzz

from bot.dialogs.base import Dialog, DialogContext, Outcome, finish, goto, stay
from bot.messages import Choice, Reply
from bot.text import fold

PREFIX = "lang:"


class Step(StrEnum):
    CHOOSE = "choose"


class LanguageDialog(Dialog):
    name = "language"
    Step = Step
    menu_key = "menu.language"
    needs_consent = False

    def _prompt(self, ctx: DialogContext) -> Reply:
        catalogs = ctx.runtime.catalogs
        choices = tuple(
            Choice(PREFIX + lang, "language.option", {"name": catalogs.t(lang, "language.name")})
            for lang in catalogs.locales
        )
        return Reply("language.prompt", choices=choices)

    async def start(self, ctx: DialogContext) -> Outcome:
        return stay(Step.CHOOSE, self._prompt(ctx))

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        catalogs = ctx.runtime.catalogs
        chosen: str | None = None
        choice = ctx.incoming.choice_id
        if choice and choice.startswith(PREFIX) and choice[len(PREFIX) :] in catalogs.locales:
            chosen = choice[len(PREFIX) :]
        elif ctx.text:
            chosen = _locale_named(ctx, fold(ctx.text))
        if chosen is None:
            return stay(Step.CHOOSE, Reply("language.unknown"), self._prompt(ctx))
        ctx.locale = chosen
        await ctx.residents.set_locale(ctx.resident, chosen)
        changed = Reply("language.changed", {"name": catalogs.t(chosen, "language.name")})
        if not ctx.consented:
            return goto("welcome", changed)
        return finish(changed)


def _locale_named(ctx: DialogContext, answer: str) -> str | None:
    """'english', 'inggris', 'indonesia', 'id' → a locale code."""
    catalogs = ctx.runtime.catalogs
    for lang in catalogs.locales:
        names = {lang, *fold(catalogs.t(lang, "language.aliases")).split()}
        if answer in names or any(fuzz.ratio(answer, name) >= 85 for name in names if name):
            return lang
    return None
