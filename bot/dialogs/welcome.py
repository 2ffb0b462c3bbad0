"""Welcome and consent (UU PDP): what is stored, why, how long, who sees it.

```mermaid
stateDiagram-v2
    [*] --> consent: first message
    consent --> consent: "baca selengkapnya" / "tidak setuju"
    consent --> language: "bahasa"
    consent --> [*]: "setuju" (to the menu)
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import Dialog, DialogContext, Outcome, finish, goto, stay
from bot.messages import Choice, Reply


class Step(StrEnum):
    CONSENT = "consent"


AGREE = Choice("welcome:agree", "welcome.agree")
MORE = Choice("welcome:more", "welcome.read_more")
DECLINE = Choice("welcome:decline", "welcome.decline")
LANGUAGE = Choice("nav:language", "welcome.language")


def _consent_reply(ctx: DialogContext) -> Reply:
    return Reply(
        "welcome.consent",
        {"months": ctx.runtime.settings.data_retention_months},
        choices=(AGREE, MORE, DECLINE, LANGUAGE),
    )


def privacy_params(ctx: DialogContext) -> dict[str, str | int]:
    settings = ctx.runtime.settings
    return {
        "office": settings.office_name,
        "contact": settings.office_contact,
        "months": settings.data_retention_months,
    }


class WelcomeDialog(Dialog):
    name = "welcome"
    Step = Step
    needs_consent = False

    async def start(self, ctx: DialogContext) -> Outcome:
        greeting = Reply("welcome.greeting", {"office": ctx.runtime.settings.office_name})
        return stay(Step.CONSENT, greeting, _consent_reply(ctx))

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id
        if choice == AGREE.id:
            await ctx.residents.record_consent(ctx.resident, ctx.now)
            return finish(Reply("welcome.thanks"))
        if choice == MORE.id:
            return stay(
                Step.CONSENT, Reply("privacy.full", privacy_params(ctx)), _consent_reply(ctx)
            )
        if choice == DECLINE.id:
            await ctx.residents.record_decline(ctx.resident, ctx.now)
            declined = Reply("welcome.declined", privacy_params(ctx), choices=(AGREE, MORE))
            return stay(Step.CONSENT, declined)
        if choice == LANGUAGE.id:
            return goto("language")
        return stay(Step.CONSENT, Reply("welcome.please_choose"), _consent_reply(ctx))
