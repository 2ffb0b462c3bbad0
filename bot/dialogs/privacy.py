"""Data and privacy: the full notice, and withdrawing consent (UU PDP art. 40).

```mermaid
stateDiagram-v2
    [*] --> review: the notice
    review --> confirm: "tarik persetujuan"
    confirm --> welcome: "ya, tarik"
    review --> [*]: menu
    confirm --> [*]: menu
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, finish, goto, stay
from bot.dialogs.welcome import privacy_params
from bot.intents import Intent
from bot.messages import Choice, Reply


class Step(StrEnum):
    REVIEW = "review"
    CONFIRM = "confirm"


WITHDRAW = Choice("privacy:withdraw", "privacy.withdraw")
WITHDRAW_YES = Choice("privacy:withdraw_yes", "privacy.withdraw_yes")


class PrivacyDialog(Dialog):
    name = "privacy"
    Step = Step
    menu_key = "menu.privacy"
    intents = (Intent.PRIVACY,)

    async def start(self, ctx: DialogContext) -> Outcome:
        notice = Reply("privacy.full", privacy_params(ctx), choices=(WITHDRAW, MENU_CHOICE))
        return stay(Step.REVIEW, notice)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id
        if step is Step.REVIEW and choice == WITHDRAW.id:
            confirm = Reply("privacy.withdraw_confirm", choices=(WITHDRAW_YES, MENU_CHOICE))
            return stay(Step.CONFIRM, confirm)
        if step is Step.CONFIRM and choice == WITHDRAW_YES.id:
            await ctx.residents.record_decline(ctx.resident, ctx.now)
            return goto("welcome", Reply("privacy.withdrawn", privacy_params(ctx)))
        return finish()
