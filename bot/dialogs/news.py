"""STOP / BERHENTI and MULAI, typed at any step: distribution news off, or on again.

STOP works even before the privacy notice is accepted: stopping messages must never
depend on agreeing to anything. MULAI with no earlier subscription opens the schedule
journey, which asks for the village.

```mermaid
stateDiagram-v2
    [*] --> menu: STOP (confirmed)
    [*] --> menu: MULAI with subscriptions kept (confirmed)
    [*] --> schedule: MULAI with none
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import Dialog, DialogContext, Outcome, goto
from bot.dialogs.schedule import resumed_reply
from bot.messages import Reply
from bot.services.subscriptions import SubscriptionService


class Step(StrEnum):
    DONE = "done"


class NewsDialog(Dialog):
    name = "news"
    Step = Step
    needs_consent = False

    async def start(self, ctx: DialogContext) -> Outcome:
        subscriptions = SubscriptionService(ctx.session)
        if ctx.data.get("command") == "stop":
            had = await subscriptions.stop(ctx.identity_id, ctx.now)
            return goto("menu", Reply("schedule.stopped" if had else "schedule.stopped_none"))
        kept = await subscriptions.resume(ctx.identity_id, ctx.now)
        if kept:
            return goto("menu", await resumed_reply(ctx, kept))
        return goto("schedule")

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        return await self.start(ctx)
