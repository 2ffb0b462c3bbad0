"""Data and privacy: the full notice, and withdrawing consent (UU PDP art. 40).

```mermaid
stateDiagram-v2
    [*] --> review: the notice
    review --> review: "hapus NIK tersimpan" (shown when one is saved)
    review --> confirm: "tarik persetujuan"
    confirm --> welcome: "ya, tarik"
    review --> [*]: menu
    confirm --> [*]: menu
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, finish, goto, stay
from bot.dialogs.routing import route_free_text
from bot.dialogs.welcome import privacy_params
from bot.intents import Intent
from bot.messages import Choice, Reply


class Step(StrEnum):
    REVIEW = "review"
    CONFIRM = "confirm"


WITHDRAW = Choice("privacy:withdraw", "privacy.withdraw")
FORGET_NIK = Choice("privacy:forget_nik", "privacy.forget_nik")
WITHDRAW_YES = Choice("privacy:withdraw_yes", "privacy.withdraw_yes")


class PrivacyDialog(Dialog):
    name = "privacy"
    Step = Step
    menu_key = "menu.privacy"
    intents = (Intent.PRIVACY,)

    async def start(self, ctx: DialogContext) -> Outcome:
        return stay(Step.REVIEW, Reply("privacy.full", privacy_params(ctx), choices=_choices(ctx)))

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id
        if step is Step.REVIEW and choice == FORGET_NIK.id:
            nik_hash = ctx.resident.saved_nik_hash
            if await ctx.residents.forget_nik(ctx.resident):
                ctx.audit.record(ctx.actor, "resident.nik_forgotten", "ok", ctx.now, nik_hash)
                done = Reply("privacy.nik_forgotten", choices=_choices(ctx))
            else:
                done = Reply("privacy.no_saved_nik", choices=_choices(ctx))
            return stay(Step.REVIEW, done)
        if step is Step.REVIEW and choice == WITHDRAW.id:
            confirm = Reply("privacy.withdraw_confirm", choices=(WITHDRAW_YES, MENU_CHOICE))
            return stay(Step.CONFIRM, confirm)
        if step is Step.CONFIRM and choice == WITHDRAW_YES.id:
            await ctx.residents.record_decline(ctx.resident, ctx.now)
            return goto("welcome", Reply("privacy.withdrawn", privacy_params(ctx)))
        if ctx.text:
            # Typed words ("hapus data saya") go where they would from the menu, which for
            # a deletion is this notice again, with its buttons.
            return route_free_text(ctx)
        return finish()


def _choices(ctx: DialogContext) -> tuple[Choice, ...]:
    forget = (FORGET_NIK,) if ctx.resident.saved_nik_hash is not None else ()
    return (*forget, WITHDRAW, MENU_CHOICE)
