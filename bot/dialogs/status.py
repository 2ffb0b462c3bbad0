"""Aid status check ("Cek status bansos"): NIK, then the name as on the KTP, then the answer.

The NIK never leaves this dialog in the clear: between steps the conversation keeps only
its keyed hash and its ciphertext, and it is shown back masked. A failed look-up gets the
same answer whether the NIK is unknown or the name differs (no oracle).

```mermaid
stateDiagram-v2
    [*] --> name: a NIK sent at the menu (checked as at the nik step)
    [*] --> saved: a NIK was remembered
    [*] --> nik: otherwise
    saved --> result: "pakai NIK tersimpan"
    saved --> nik: "NIK lain"
    nik --> nik: not a NIK (length, date, region, photo) → why, ask again
    nik --> name: a valid NIK
    name --> offer_save: found, NIK not remembered yet
    name --> result: found, already remembered
    name --> not_found: no match (unknown NIK or other name: one answer)
    offer_save --> result: yes (remember) or no
    not_found --> nik: "coba lagi" or a new NIK typed
    result --> nik: "cek NIK lain" or a new NIK typed
    nik --> limited: a rate limit holds
    name --> limited
    limited --> [*]
    result --> [*]: menu
```
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, finish, goto, stay
from bot.dialogs.nik_prompts import NIK_PROBLEM_KEYS, saved_nik
from bot.dialogs.routing import route_free_text
from bot.dialogs.schedule import offer_choice
from bot.intents import Intent
from bot.messages import Choice, Reply
from bot.services.names import name_tokens
from bot.services.nik import InvalidNik, parse_nik
from bot.services.pii import mask_nik
from bot.services.schedules import schedule_text
from bot.services.status_check import LimitScope, LookupRefused, StatusAnswer, StatusCheck


class Step(StrEnum):
    SAVED = "saved"
    NIK = "nik"
    NAME = "name"
    OFFER_SAVE = "offer_save"
    NOT_FOUND = "not_found"
    RESULT = "result"


USE_SAVED = Choice("status:use_saved", "status.use_saved")
OTHER_NIK = Choice("status:other_nik", "status.other_nik")
RETRY = Choice("status:retry", "status.retry")
SAVE_YES = Choice("status:save_yes", "status.save_yes")
SAVE_NO = Choice("status:save_no", "status.save_no")
REPORT_PROBLEM = Choice("status:report_problem", "status.report_problem")
PROPOSE = Choice("status:propose", "status.propose")

_LIMIT_KEYS = {
    LimitScope.FAILURES_PER_HOUR: "status.limited_failures",
    LimitScope.LOOKUPS_PER_DAY: "status.limited_daily",
    LimitScope.NIK_PER_DAY: "status.limited_nik",
}
_STATES = frozenset({"aktif", "verifikasi", "nonaktif", "ditolak"})


class StatusDialog(Dialog):
    name = "status"
    Step = Step
    menu_key = "menu.status"
    intents = (Intent.STATUS,)

    async def start(self, ctx: DialogContext) -> Outcome:
        typed = ctx.data.get("typed")
        ctx.data.clear()
        if isinstance(typed, str) and typed:
            # A NIK sent at the menu: take it as the answer to the first question.
            ctx.text = typed
            outcome = await self._nik(ctx)
            outcome.replies.insert(0, Reply("status.nik_from_menu"))
            return outcome
        nik = saved_nik(ctx)
        if nik is not None:
            offer = Reply(
                "status.ask_saved",
                {"nik": mask_nik(nik)},
                choices=(USE_SAVED, OTHER_NIK, MENU_CHOICE),
            )
            return stay(Step.SAVED, offer)
        if ctx.resident.saved_nik_encrypted is not None:
            # Sealed under an earlier SECRET_KEY: useless now, so it is not kept.
            await ctx.residents.forget_nik(ctx.resident)
        return self._ask_nik()

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id
        if step is Step.SAVED:
            if choice == USE_SAVED.id and ctx.resident.saved_nik_hash is not None:
                return await self._look_up_saved(ctx, ctx.resident.saved_nik_hash)
            if choice == OTHER_NIK.id:
                return self._ask_nik()
            return await self._nik(ctx) if ctx.text else await self.start(ctx)
        if step is Step.NIK:
            return await self._nik(ctx)
        if step is Step.NAME:
            return await self._name(ctx)
        if step is Step.OFFER_SAVE:
            return await self._save_answer(ctx)
        if choice in {RETRY.id, OTHER_NIK.id}:
            return self._ask_nik()
        if choice == REPORT_PROBLEM.id:
            programme = ctx.data.get("programme")
            return goto("report", programme=programme) if programme else goto("report")
        if choice == PROPOSE.id:
            return goto("report", kind="usul")
        return await self._free_text(ctx)

    async def _free_text(self, ctx: DialogContext) -> Outcome:
        """After an answer: another NIK starts over, anything else is routed as at the menu."""
        if ctx.text and _looks_like_nik(ctx.text):
            return await self._nik(ctx)
        if ctx.text:
            return route_free_text(ctx)
        return finish()

    def _ask_nik(self, key: str = "status.ask_nik", **params: str | int) -> Outcome:
        return stay(Step.NIK, Reply(key, params, choices=(MENU_CHOICE,)))

    async def _nik(self, ctx: DialogContext) -> Outcome:
        if ctx.incoming.media is not None:
            return self._ask_nik("status.no_photo")
        if ctx.text and not any(ch.isdigit() for ch in ctx.text):
            match = ctx.runtime.intents.match(ctx.text)
            if match is not None and match.intent is not Intent.STATUS:
                return route_free_text(ctx)  # "jadwal bansos" instead of a NIK
        try:
            nik = parse_nik(ctx.text)
        except InvalidNik as invalid:
            return self._ask_nik(NIK_PROBLEM_KEYS[invalid.problem], count=invalid.digits)
        vault = ctx.runtime.vault
        nik_hash = vault.lookup_hash(nik)
        try:
            await self._service(ctx).ensure_allowed(ctx.actor, nik_hash, ctx.now)
        except LookupRefused as refused:
            return self._refused(ctx, refused)
        ctx.data.update(nik_hash=nik_hash, nik_sealed=vault.encrypt(nik))
        ask = Reply("status.ask_name", {"nik": mask_nik(nik)}, choices=(MENU_CHOICE,))
        return stay(Step.NAME, ask)

    async def _name(self, ctx: DialogContext) -> Outcome:
        nik_hash = ctx.data.get("nik_hash")
        if not isinstance(nik_hash, str):
            return self._ask_nik()
        if ctx.incoming.media is not None:
            return stay(Step.NAME, Reply("status.no_photo_name", choices=(MENU_CHOICE,)))
        if ctx.text and _looks_like_nik(ctx.text):
            return await self._nik(ctx)
        if not name_tokens(ctx.text):
            return stay(Step.NAME, Reply("status.name_needed", choices=(MENU_CHOICE,)))
        try:
            answer = await self._service(ctx).look_up(ctx.actor, nik_hash, ctx.text, ctx.now)
        except LookupRefused as refused:
            return self._refused(ctx, refused)
        if answer is None:
            ctx.data.clear()
            return stay(Step.NOT_FOUND, self._not_found(ctx))
        if ctx.resident.saved_nik_hash == nik_hash:
            ctx.data.clear()
            _remember_programme(ctx, answer)
            return stay(Step.RESULT, *self._answer(ctx, answer), self._after(ctx))
        _remember_programme(ctx, answer)
        offer = Reply("status.offer_save", choices=(SAVE_YES, SAVE_NO, MENU_CHOICE))
        return stay(Step.OFFER_SAVE, *self._answer(ctx, answer), offer)

    async def _save_answer(self, ctx: DialogContext) -> Outcome:
        nik_hash, sealed = ctx.data.get("nik_hash"), ctx.data.get("nik_sealed")
        kept: dict[str, object] = {k: ctx.data[k] for k in ("programme", "news") if k in ctx.data}
        ctx.data.clear()
        ctx.data.update(kept)
        if ctx.incoming.choice_id == SAVE_YES.id and isinstance(nik_hash, str):
            assert isinstance(sealed, str)
            await ctx.residents.save_nik(ctx.resident, nik_hash, sealed, ctx.now)
            ctx.audit.record(ctx.actor, "resident.nik_saved", "ok", ctx.now, nik_hash)
            return stay(Step.RESULT, Reply("status.saved"), self._after(ctx))
        if ctx.incoming.choice_id == SAVE_NO.id:
            return stay(Step.RESULT, Reply("status.not_saved"), self._after(ctx))
        if ctx.incoming.choice_id == REPORT_PROBLEM.id:
            return goto("report")
        return await self._free_text(ctx)

    async def _look_up_saved(self, ctx: DialogContext, nik_hash: str) -> Outcome:
        try:
            answer = await self._service(ctx).look_up_verified(ctx.actor, nik_hash, ctx.now)
        except LookupRefused as refused:
            return self._refused(ctx, refused)
        if answer is None:
            return stay(Step.NOT_FOUND, self._not_found(ctx))
        _remember_programme(ctx, answer)
        return stay(Step.RESULT, *self._answer(ctx, answer), self._after(ctx))

    def _service(self, ctx: DialogContext) -> StatusCheck:
        return StatusCheck(ctx.session, ctx.runtime.settings)

    def _refused(self, ctx: DialogContext, refused: LookupRefused) -> Outcome:
        ctx.data.clear()
        settings = ctx.runtime.settings
        when = ctx.runtime.catalogs.when(ctx.locale, refused.retry_at, settings.zone)
        params: dict[str, str | int] = {
            "limit": refused.limit,
            "when": when,
            "contact": settings.office_contact,
        }
        return finish(Reply(_LIMIT_KEYS[refused.scope], params))

    def _not_found(self, ctx: DialogContext) -> Reply:
        params = {"contact": ctx.runtime.settings.office_contact}
        return Reply("status.not_found", params, choices=(RETRY, PROPOSE, MENU_CHOICE))

    def _after(self, ctx: DialogContext) -> Reply:
        """What next; a beneficiary being paid is offered the distribution news."""
        news = ctx.data.get("news")
        offer = (offer_choice(*news),) if isinstance(news, list) else ()
        choices = (REPORT_PROBLEM, *offer, OTHER_NIK, MENU_CHOICE)
        return Reply("status.what_next", choices=choices)

    def _answer(self, ctx: DialogContext, answer: StatusAnswer) -> tuple[Reply, ...]:
        catalogs, locale = ctx.runtime.catalogs, ctx.locale
        lines = []
        for item in answer.programmes:
            state = item.status if item.status in _STATES else "verifikasi"
            lines.append(
                catalogs.t(
                    locale,
                    "status.programme_line",
                    {
                        "programme": catalogs.t(locale, f"programme.{item.programme}"),
                        "state": catalogs.t(locale, f"status.state.{state}"),
                        "period": item.period or "-",
                    },
                )
            )
        if not lines:
            lines.append(catalogs.t(locale, "status.no_programmes"))
        found = Reply(
            "status.found",
            {
                "name": answer.masked_name,
                "village": answer.village_name,
                "programmes": "\n".join(lines),
            },
        )
        zone = ctx.runtime.settings.zone
        if not answer.distributions:
            receiving = any(item.status == "aktif" for item in answer.programmes)
            key = "status.no_distribution" if receiving else "status.not_receiving"
            return found, Reply(key)
        schedule_lines = [
            schedule_text(catalogs, locale, item, zone) for item in answer.distributions
        ]
        return found, Reply("status.distribution", {"schedules": "\n\n".join(schedule_lines)})


def _remember_programme(ctx: DialogContext, answer: StatusAnswer) -> None:
    """The programme a "report a problem" button should start with: the one being paid."""
    receiving = [p.programme for p in answer.programmes if p.status == "aktif"]
    chosen = receiving or [p.programme for p in answer.programmes]
    if chosen:
        ctx.data["programme"] = chosen[0]
    if receiving:
        ctx.data["news"] = [answer.village_code, answer.rt, receiving]


def _looks_like_nik(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    return digits >= 8
