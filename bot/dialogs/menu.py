"""The main menu: only journeys that work end to end are listed.

```mermaid
stateDiagram-v2
    [*] --> choose
    choose --> journey: a menu choice or a recognised intent
    choose --> status: a NIK sent on its own
    choose --> faq: a question the FAQ answers
    choose --> choose: anything else (help and the menu again)
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import Dialog, DialogContext, Outcome, goto, stay
from bot.dialogs.routing import route_free_text
from bot.messages import Reply
from bot.services.nik import looks_like_a_nik


class Step(StrEnum):
    CHOOSE = "choose"


class MenuDialog(Dialog):
    name = "menu"
    Step = Step

    async def start(self, ctx: DialogContext) -> Outcome:
        return stay(Step.CHOOSE, Reply("menu.prompt", choices=ctx.dialogs.menu_choices()))

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id
        if choice is not None:
            dialog = ctx.dialogs.from_menu_choice(choice)
            if dialog is not None:
                return goto(dialog.name)
        if ctx.incoming.kind == "text" and ctx.text:
            if looks_like_a_nik(ctx.text):
                return goto("status", typed=ctx.text)  # a NIK sent straight away
            return route_free_text(ctx)
        return goto("menu", Reply("common.not_understood"))
