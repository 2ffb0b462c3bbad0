"""Following a report ("Cek laporan"): the resident's own reports, or any report by its code
(anonymous reports have no other key). Residents see the status and officers' public
messages, never internal notes. Buttons pushed after a report closes (the rating, the
14-day check-back) open this dialog too.

```mermaid
stateDiagram-v2
    [*] --> list: own reports (or a code typed with the request)
    list --> view: a report
    list --> code: "masukkan kode"
    code --> view: a known code
    code --> code: unknown or malformed (wrong codes are limited per hour)
    view --> list
    [*] --> comment: "rate:CODE:n" pushed after "selesai"
    [*] --> reopened: "checkback:CODE:bad" pushed 14 days later
    comment --> [*]: a comment or "lewati"
    reopened --> [*]: what happened, or "lewati"
    [*] --> answer: "answer:CODE" under an officer's reply, or "balas" in a view
    view --> answer
    answer --> answer: too short
    answer --> [*]: the answer is added to the report
```

What residents write here is kept with NIK-like numbers masked, as in the report itself.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, finish, stay
from bot.dialogs.routing import route_free_text
from bot.intents import Intent
from bot.messages import Choice, Reply
from bot.services.reports import OPEN, CodeLookupLimited, ReportService
from bot.services.tickets import display_code, find_code, read_code
from bot.text import fold, redact_id_numbers
from storage.models import Report

SHOWN_REPORTS = 5
SHOWN_EVENTS = 6
ENTER_CODE = Choice("track:enter_code", "track.enter_code")
BACK_TO_LIST = Choice("menu:track", "menu.track")
SKIP = Choice("track:skip", "track.skip")
# An answer to an officer's question may be short ("jam 6 pagi", "terima kasih, Pak"), but
# not a bare "ok": half of a report story's minimum (REPORT_MIN_CHARS).


class Step(StrEnum):
    LIST = "list"
    CODE = "code"
    VIEW = "view"
    COMMENT = "comment"
    REOPENED = "reopened"
    ANSWER = "answer"


class TrackDialog(Dialog):
    name = "track"
    Step = Step
    menu_key = "menu.track"
    intents = (Intent.TRACK,)
    global_choice_prefixes = ("rate:", "checkback:", "answer:")

    async def start(self, ctx: DialogContext) -> Outcome:
        ctx.data.clear()
        choice = ctx.incoming.choice_id or ""
        if choice.startswith("rate:"):
            return await self._rate(ctx, choice)
        if choice.startswith("checkback:"):
            return await self._check_back(ctx, choice)
        if choice.startswith("answer:"):
            return await self._ask_answer(ctx, choice.removeprefix("answer:"))
        typed = find_code(ctx.incoming.text or "")
        if typed is not None:
            return await self._by_code(ctx, typed)
        return await self._list(ctx)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id or ""
        if step in (Step.COMMENT, Step.REOPENED, Step.ANSWER):
            return await self._comment(ctx, step)
        if choice.startswith("answer:"):
            return await self._ask_answer(ctx, choice.removeprefix("answer:"))
        if choice == ENTER_CODE.id:
            return stay(Step.CODE, Reply("track.ask_code", choices=(MENU_CHOICE,)))
        if choice.startswith("track:report:"):
            report = await _service(ctx).by_code(choice.removeprefix("track:report:"))
            if report is not None and report.resident_id == ctx.resident.id:
                return await self._view(ctx, report)
            return await self._list(ctx)
        if ctx.text:
            code = read_code(ctx.text) or find_code(ctx.text)
            if code is not None:
                return await self._by_code(ctx, code)
            if step is Step.CODE:
                return stay(Step.CODE, Reply("track.bad_code", choices=(MENU_CHOICE,)))
            return route_free_text(ctx)
        return await self._list(ctx)

    async def _list(self, ctx: DialogContext) -> Outcome:
        reports = await _service(ctx).of_resident(ctx.resident.id or 0, SHOWN_REPORTS)
        if not reports:
            return stay(Step.CODE, Reply("track.none", choices=(ENTER_CODE, MENU_CHOICE)))
        t = ctx.runtime.catalogs.t
        choices = tuple(
            Choice(
                f"track:report:{report.code}",
                "track.item",
                {
                    "code": display_code(report.code),
                    "kind": t(ctx.locale, f"report.kind.{report.kind}"),
                },
            )
            for report in reports
        )
        return stay(Step.LIST, Reply("track.prompt", choices=(*choices, ENTER_CODE, MENU_CHOICE)))

    async def _by_code(self, ctx: DialogContext, code: str) -> Outcome:
        try:
            report = await _service(ctx).look_up_code(ctx.actor, code, ctx.now)
        except CodeLookupLimited as limited:
            zone = ctx.runtime.settings.zone
            when = ctx.runtime.catalogs.when(ctx.locale, limited.retry_at, zone)
            return finish(Reply("track.limited", {"when": when}))
        if report is None:
            shown = {"code": display_code(code)}
            return stay(Step.CODE, Reply("track.not_found", shown, choices=(MENU_CHOICE,)))
        return await self._view(ctx, report)

    async def _view(self, ctx: DialogContext, report: Report) -> Outcome:
        catalogs, locale = ctx.runtime.catalogs, ctx.locale
        zone = ctx.runtime.settings.zone
        view = await _service(ctx).public_view(report)
        lines = [
            catalogs.t(
                locale,
                "track.event",
                {
                    "when": catalogs.when(locale, event.at, zone),
                    "message": event.message or catalogs.t(locale, f"report.status.{event.status}"),
                },
            )
            for event in view.events[-SHOWN_EVENTS:]
        ]
        params = {
            "code": display_code(view.code),
            "kind": catalogs.t(locale, f"report.kind.{view.kind}"),
            "created": catalogs.when(locale, view.created_at, zone),
            "status": catalogs.t(locale, f"report.status.{view.status}"),
            "events": "\n".join(lines) or catalogs.t(locale, "track.no_events"),
        }
        own = report.resident_id is not None and report.resident_id == ctx.resident.id
        answer = (
            (Choice(f"answer:{report.code}", "report.answer"),)
            if own and report.status in OPEN
            else ()
        )
        back = (*answer, BACK_TO_LIST, MENU_CHOICE) if own else (MENU_CHOICE,)
        return stay(Step.VIEW, Reply("track.view", params, choices=back))

    async def _ask_answer(self, ctx: DialogContext, code: str) -> Outcome:
        report = await self._owned(ctx, code)
        if report is None or report.status not in OPEN:
            return finish(Reply("common.stale_choice"))
        ctx.data["code"] = code
        params = {"code": display_code(code)}
        return stay(Step.ANSWER, Reply("track.ask_answer", params, choices=(SKIP, MENU_CHOICE)))

    async def _owned(self, ctx: DialogContext, code: str) -> Report | None:
        report = await _service(ctx).by_code(code)
        if report is None or report.resident_id is None or report.resident_id != ctx.resident.id:
            return None
        return report

    async def _rate(self, ctx: DialogContext, choice: str) -> Outcome:
        _, code, value = [*choice.split(":"), "", ""][:3]
        report = await self._owned(ctx, code)
        if report is None or value not in {"1", "2", "3", "4", "5"}:
            return finish(Reply("common.stale_choice"))
        if report.rating is not None:
            return finish(Reply("track.already_rated"))
        if report.status != "selesai":  # reopened since the rating question was sent
            return finish(Reply("common.stale_choice"))
        await _service(ctx).rate(report, int(value), ctx.now)
        ctx.data["code"] = code
        return stay(Step.COMMENT, Reply("track.rated", choices=(SKIP,)))

    async def _check_back(self, ctx: DialogContext, choice: str) -> Outcome:
        _, code, answer = [*choice.split(":"), "", ""][:3]
        report = await self._owned(ctx, code)
        if report is None or report.checked_back_at is None or report.status != "selesai":
            return finish(Reply("common.stale_choice"))
        service = _service(ctx)
        if answer == "ok":
            await service.check_back_answer(report, True, "", ctx.now)
            return finish(Reply("track.check_back_thanks"))
        await service.check_back_answer(report, False, "", ctx.now)
        ctx.data["code"] = code
        params = {"code": display_code(code), "contact": ctx.runtime.settings.office_contact}
        return stay(Step.REOPENED, Reply("track.check_back_reopened", params, choices=(SKIP,)))

    async def _comment(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        code = ctx.data.get("code")
        report = await self._owned(ctx, code) if isinstance(code, str) else None
        if ctx.incoming.choice_id == SKIP.id or report is None or not ctx.text:
            ctx.data.clear()
            return finish()
        if step is Step.ANSWER and _says_nothing(ctx):
            too_short = Reply("track.answer_too_short", choices=(SKIP, MENU_CHOICE))
            return stay(Step.ANSWER, too_short)
        ctx.data.clear()
        text = redact_id_numbers(ctx.text)
        told = (Reply("report.nik_masked"),) if text != ctx.text else ()
        service = _service(ctx)
        if step is Step.COMMENT:
            await service.comment_on_rating(report, text, ctx.now)
            return finish(*told, Reply("track.comment_saved"))
        await service.add_to(report, text, (), ctx.now)
        return finish(*told, Reply("track.answer_saved", {"code": display_code(report.code)}))


def _says_nothing(ctx: DialogContext) -> bool:
    """An answer to an officer that is one word carrying nothing ("ok", "ya"): one of the
    FAQ's stop words. "20000", "RT 03", "Pak Darto" or "Terima kasih, Pak" are answers."""
    words = fold(ctx.text).split()
    return len(words) <= 1 and all(word in ctx.runtime.faq.stop_words for word in words)


def _service(ctx: DialogContext) -> ReportService:
    return ReportService(ctx.session, ctx.runtime.settings, ctx.runtime.catalogs)
