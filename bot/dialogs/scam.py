"""Scam shield: bansos registration is free; officers never ask for a PIN, OTP or money.

```mermaid
stateDiagram-v2
    [*] --> [*]: the warning, then the menu
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import Dialog, DialogContext, Outcome, finish
from bot.intents import Intent
from bot.messages import Reply


class Step(StrEnum):
    SHOWN = "shown"


class ScamDialog(Dialog):
    name = "scam"
    Step = Step
    menu_key = "menu.scam"
    intents = (Intent.SCAM,)

    async def start(self, ctx: DialogContext) -> Outcome:
        settings = ctx.runtime.settings
        return finish(
            Reply(
                "scam.warning", {"office": settings.office_name, "contact": settings.office_contact}
            )
        )

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        return await self.start(ctx)
