""" "Sudah terima?" after a distribution: the resident's tap is recorded; "dipotong" and
"belum terima" offer a report prefilled with the programme, village and date.

```mermaid
stateDiagram-v2
    [*] --> [*]: "Sudah, lengkap" / "Tidak tahu jadwalnya" (thanks, menu)
    [*] --> confirm: "Sudah, tapi dipotong" / "Belum terima"
    confirm --> report: "Ya, buat laporan" (prefilled)
    confirm --> [*]: "Tidak usah"
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, goto, stay
from bot.dialogs.routing import route_free_text
from bot.messages import Choice, Reply
from bot.services.distribution_checks import (
    CHOICE_PREFIX,
    REPORT_KIND,
    DistributionCheck,
)
from bot.services.schedules import ScheduleNotFound, ScheduleService
from bot.services.subscriptions import SubscriptionService
from bot.text import row_id

MAKE_REPORT = Choice("check:report", "check.make_report")
NO_REPORT = Choice("check:no_report", "check.no_report")


class Step(StrEnum):
    CONFIRM = "confirm"


class DistributionCheckDialog(Dialog):
    name = "distribution_check"
    Step = Step
    global_choice_prefixes = (CHOICE_PREFIX,)

    async def start(self, ctx: DialogContext) -> Outcome:
        ctx.data.clear()
        schedule_part, _, answer = (
            (ctx.incoming.choice_id or "").removeprefix(CHOICE_PREFIX).partition(":")
        )
        schedule_id = row_id(schedule_part)
        if not schedule_id:
            return goto("menu", Reply("common.stale_choice"))
        service = DistributionCheck(ctx.session, ctx.runtime.settings, ctx.runtime.catalogs)
        row = await service.answer(ctx.identity_id, schedule_id, answer, ctx.now)
        if row is None or row.id is None:
            return goto("menu", Reply("common.stale_choice"))
        if answer not in REPORT_KIND:
            params = {"contact": ctx.runtime.settings.office_contact}
            return goto("menu", Reply(f"check.thanks.{answer}", params))
        ctx.data.update(answer_id=row.id, schedule_id=row.schedule_id, answer=answer)
        offer = Reply(f"check.offer.{answer}", choices=(MAKE_REPORT, NO_REPORT, MENU_CHOICE))
        return stay(Step.CONFIRM, offer)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id
        if choice == NO_REPORT.id:
            return goto("menu", Reply("check.report_declined"))
        if choice != MAKE_REPORT.id:
            return route_free_text(ctx) if ctx.text else goto("menu")
        try:
            view = await ScheduleService(ctx.session).get(int(ctx.data["schedule_id"]))
        except (KeyError, ValueError, ScheduleNotFound):
            return goto("report")
        mine = await SubscriptionService(ctx.session).of(ctx.identity_id)
        village = next((s.village_code for s in mine if s.village_code in view.villages), None)
        when = ctx.runtime.catalogs.when(
            ctx.locale, view.schedule.starts_at, ctx.runtime.settings.zone, "format.date"
        )
        return goto(
            "report",
            kind=REPORT_KIND[str(ctx.data.get("answer"))],
            programme=view.schedule.programme,
            village=village,
            when=when,
            check_answer=ctx.data.get("answer_id"),
        )
