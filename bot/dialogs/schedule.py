"""Jadwal penyaluran: upcoming distributions for the resident's village, and news by chat.

The village comes from the verified register entry (a remembered NIK: village, RT and the
programmes being paid), else from an earlier subscription, else the resident names it
(typo-tolerant). After the schedules the resident may ask to be told of new ones; STOP
and MULAI work from anywhere (see the engine), and here as buttons.

```mermaid
stateDiagram-v2
    [*] --> shown: village known
    [*] --> village: village unknown
    village --> village: no village close enough
    village --> shown: a village
    shown --> shown: subscribe / stop / resume (confirmed)
    shown --> village: "Desa lain"
    shown --> [*]: menu
```
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, goto, stay
from bot.dialogs.routing import route_free_text
from bot.intents import Intent
from bot.messages import Choice, Reply
from bot.services.registry_rows import PROGRAMMES
from bot.services.schedules import ScheduleService, schedule_text
from bot.services.subscriptions import SubscriptionService
from bot.services.villages import VillageDirectory
from storage.models import Subscription, Village
from storage.repositories import registry as registry_repo

# A status check's "tell me the schedule" button: sched:offer:<village>:<rt>:<PKH,BPNT>.
OFFER_PREFIX = "sched:offer:"
SUBSCRIBE_ALL = Choice("sched:sub:all", "schedule.subscribe_all")
STOP = Choice("sched:stop", "schedule.stop")
RESUME = Choice("sched:resume", "schedule.resume")
OTHER_VILLAGE = Choice("sched:other", "schedule.other_village")
VILLAGE_BUTTONS = 8


class Step(StrEnum):
    VILLAGE = "village"
    SHOWN = "shown"


def offer_choice(village_code: str, rt: str, programmes: list[str]) -> Choice:
    """The button a status answer carries to subscribe a verified beneficiary."""
    return Choice(
        f"{OFFER_PREFIX}{village_code}:{rt}:{','.join(programmes)}", "schedule.offer_button"
    )


class ScheduleDialog(Dialog):
    name = "schedule"
    Step = Step
    menu_key = "menu.schedule"
    intents = (Intent.SCHEDULE,)
    global_choice_prefixes = ("sched:",)

    async def start(self, ctx: DialogContext) -> Outcome:
        ctx.data.clear()
        choice = ctx.incoming.choice_id or ""
        if choice.startswith(OFFER_PREFIX):
            village, _, rest = choice.removeprefix(OFFER_PREFIX).partition(":")
            rt, _, programmes = rest.partition(":")
            wanted = [p for p in programmes.split(",") if p in PROGRAMMES]
            if await registry_repo.village(ctx.session, village) is not None and wanted:
                ctx.data.update(programmes=wanted, rt=rt[:3])
                return await self._show(ctx, village)
        if choice.startswith("sched:"):
            return await self._on_choice(ctx, choice)
        return await self._known_village(ctx)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id
        if step is Step.VILLAGE:
            if choice is not None and choice.startswith("village:"):
                return await self._show(ctx, choice.removeprefix("village:"))
            if ctx.text:
                found = await VillageDirectory(ctx.session).match(ctx.text)
                if found is not None:
                    return await self._show(ctx, found.code)
                if ctx.runtime.intents.match(ctx.text) is not None:
                    return route_free_text(ctx)  # another journey ("daftar pelatihan")
            return await self._ask_village(ctx, Reply("schedule.village_unknown"))
        if choice is not None:
            return await self._on_choice(ctx, choice)
        return await self._show(ctx, str(ctx.data.get("village", "")))

    # -- where the resident lives ----------------------------------------------------------

    async def _known_village(self, ctx: DialogContext) -> Outcome:
        if ctx.resident.saved_nik_hash:
            person = await registry_repo.registered_person(
                ctx.session, ctx.resident.saved_nik_hash, ctx.now
            )
            if person is not None:
                ctx.data["rt"] = person.rt
                ctx.data["programmes"] = [
                    e.programme for e in person.enrolments if e.status == "aktif"
                ]
                return await self._show(ctx, person.village_code)
        subscriptions = await SubscriptionService(ctx.session).of(ctx.identity_id)
        if subscriptions:
            return await self._show(ctx, subscriptions[0].village_code)
        return await self._ask_village(ctx, None)

    async def _ask_village(self, ctx: DialogContext, problem: Reply | None) -> Outcome:
        villages = await VillageDirectory(ctx.session).all()
        choices: list[Choice] = []
        if len(villages) <= VILLAGE_BUTTONS:
            choices = [
                Choice(f"village:{v.code}", "schedule.village_label", {"name": v.name})
                for v in villages
            ]
        replies = [problem] if problem is not None else []
        replies.append(Reply("schedule.ask_village", choices=(*choices, MENU_CHOICE)))
        return stay(Step.VILLAGE, *replies)

    # -- what is coming, and the news ------------------------------------------------------

    async def _show(self, ctx: DialogContext, code: str) -> Outcome:
        village = await registry_repo.village(ctx.session, code)
        if village is None:
            return await self._ask_village(ctx, Reply("schedule.village_unknown"))
        ctx.data["village"] = village.code
        rt = ctx.data.get("rt") or None
        schedules = await ScheduleService(ctx.session).upcoming_for(village.code, ctx.now, rt=rt)
        catalogs, zone = ctx.runtime.catalogs, ctx.runtime.settings.zone
        if schedules:
            lines = "\n\n".join(
                _with_rts(ctx, schedule_text(catalogs, ctx.locale, s, zone), rts)
                for s, rts in schedules
            )
            listing = Reply("schedule.list", {"village": village.name, "schedules": lines})
        else:
            listing = Reply("schedule.none", {"village": village.name})
        return stay(Step.SHOWN, listing, await self._news_offer(ctx, village))

    async def _news_offer(self, ctx: DialogContext, village: Village) -> Reply:
        subscriptions = SubscriptionService(ctx.session)
        mine = [
            s for s in await subscriptions.of(ctx.identity_id) if s.village_code == village.code
        ]
        if mine and await subscriptions.is_stopped(ctx.identity_id):
            return Reply("schedule.news_stopped", choices=(RESUME, OTHER_VILLAGE, MENU_CHOICE))
        if mine:
            have = {s.programme for s in mine}
            names = ", ".join(p for p in PROGRAMMES if p in have)
            return Reply(
                "schedule.news_on",
                {"village": village.name, "programmes": names},
                choices=(STOP, OTHER_VILLAGE, MENU_CHOICE),
            )
        programmes = [p for p in ctx.data.get("programmes", []) if p in PROGRAMMES]
        choices: list[Choice] = []
        if programmes:
            choices.append(
                Choice(
                    "sched:sub:mine",
                    "schedule.subscribe_mine",
                    {"programmes": ", ".join(programmes)},
                )
            )
        choices += [SUBSCRIBE_ALL, OTHER_VILLAGE, MENU_CHOICE]
        return Reply("schedule.news_offer", {"village": village.name}, choices=tuple(choices))

    async def _on_choice(self, ctx: DialogContext, choice: str) -> Outcome:
        subscriptions = SubscriptionService(ctx.session)
        village = str(ctx.data.get("village", ""))
        if choice == OTHER_VILLAGE.id:
            ctx.data.pop("rt", None)
            ctx.data.pop("programmes", None)
            return await self._ask_village(ctx, None)
        if choice == STOP.id:
            await subscriptions.stop(ctx.identity_id, ctx.now)
            return goto("menu", Reply("schedule.stopped"))
        if choice == RESUME.id:
            kept = await subscriptions.resume(ctx.identity_id, ctx.now)
            if kept:
                return goto("menu", await resumed_reply(ctx, kept))
            return await self._known_village(ctx)
        if choice in (SUBSCRIBE_ALL.id, "sched:sub:mine") and village:
            mine = [p for p in ctx.data.get("programmes", []) if p in PROGRAMMES]
            wanted = mine if choice == "sched:sub:mine" and mine else list(PROGRAMMES)
            await subscriptions.subscribe(ctx.identity_id, village, wanted, ctx.now)
            found = await registry_repo.village(ctx.session, village)
            return goto(
                "menu",
                Reply(
                    "schedule.subscribed",
                    {"village": found.name if found else village, "programmes": ", ".join(wanted)},
                ),
            )
        return await self._known_village(ctx)


async def resumed_reply(ctx: DialogContext, kept: Sequence[Subscription]) -> Reply:
    """MULAI confirmed, naming the villages whose news comes again."""
    names: list[str] = []
    for code in dict.fromkeys(s.village_code for s in kept):
        found = await registry_repo.village(ctx.session, code)
        names.append(found.name if found else code)
    return Reply("schedule.resumed", {"villages": ", ".join(names)})


def _with_rts(ctx: DialogContext, text: str, rts: str) -> str:
    """A schedule for some RTs only says which, so nobody else goes for nothing."""
    if not rts:
        return text
    only = ", ".join(rts.split(","))
    return text + "\n" + ctx.runtime.catalogs.t(ctx.locale, "schedule.rts_only", {"rts": only})
