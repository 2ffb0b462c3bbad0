"""The resident's training registrations ("Pelatihan saya"): see them, cancel one, and
answer an offer of a freed seat (its buttons are pushed, so they open this dialog).

```mermaid
stateDiagram-v2
    [*] --> list
    list --> view: a registration
    view --> confirm_cancel: "batalkan" (before the session starts)
    confirm_cancel --> list: "ya, batalkan" (the next on the waitlist is offered the seat)
    view --> [*]: "ambil kursi" / "lepas kursi" (a seat is offered)
    [*] --> [*]: "seat:CODE:yes" / "seat:CODE:no" pushed with an offer
```

An offered seat can be taken or let go from its view as well as from the pushed message
(which may be lost): both are the same "seat:CODE:yes|no" choices.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, finish, stay
from bot.dialogs.training import registration_status
from bot.messages import Choice, Reply
from bot.services.tickets import display_code
from bot.services.trainings import ACTIVE, SessionInfo, TrainingService
from storage.models import TrainingRegistration

CANCEL_YES = Choice("my_trainings:cancel_yes", "my_trainings.cancel_yes")
BACK = Choice("menu:my_trainings", "menu.my_trainings")
TAKE_SEAT = "my_trainings.take_seat"
RELEASE_SEAT = "my_trainings.release_seat"
FIND = Choice("menu:training", "menu.training")


class Step(StrEnum):
    LIST = "list"
    VIEW = "view"
    CONFIRM_CANCEL = "confirm_cancel"


class MyTrainingsDialog(Dialog):
    name = "my_trainings"
    Step = Step
    menu_key = "menu.my_trainings"
    global_choice_prefixes = ("seat:",)

    async def start(self, ctx: DialogContext) -> Outcome:
        ctx.data.clear()
        choice = ctx.incoming.choice_id or ""
        if choice.startswith("seat:"):
            return await self._offer_answer(ctx, choice)
        return await self._list(ctx)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id or ""
        if choice.startswith("seat:"):
            return await self._offer_answer(ctx, choice)
        if choice.startswith("my_trainings:view:"):
            return await self._view(ctx, choice.removeprefix("my_trainings:view:"))
        if choice.startswith("my_trainings:cancel:"):
            code = choice.removeprefix("my_trainings:cancel:")
            if await self._owned(ctx, code) is None:
                return await self._list(ctx)
            ctx.data["code"] = code
            ask = Reply(
                "my_trainings.cancel_confirm",
                {"code": display_code(code)},
                choices=(CANCEL_YES, BACK),
            )
            return stay(Step.CONFIRM_CANCEL, ask)
        if step is Step.CONFIRM_CANCEL and choice == CANCEL_YES.id:
            registration = await self._owned(ctx, str(ctx.data.get("code", "")))
            ctx.data.clear()
            if registration is not None and registration.status in ACTIVE:
                await _service(ctx).cancel(registration, ctx.now)
                done = Reply(
                    "my_trainings.cancelled",
                    {"code": display_code(registration.code)},
                    choices=(BACK, MENU_CHOICE),
                )
                return stay(Step.LIST, done)
        return await self._list(ctx)

    async def _list(self, ctx: DialogContext) -> Outcome:
        rows = await _service(ctx).of_resident(ctx.resident.id or 0)
        if not rows:
            return finish(Reply("my_trainings.none", choices=(FIND, MENU_CHOICE)))
        zone = ctx.runtime.settings.zone
        catalogs, locale = ctx.runtime.catalogs, ctx.locale
        lines = [
            catalogs.t(
                locale,
                "my_trainings.line",
                {
                    "title": training.title,
                    "when": catalogs.when(locale, session.starts_at, zone, "format.date"),
                    "status": registration_status(ctx, registration.status),
                    "code": display_code(registration.code),
                },
            )
            for registration, session, training in rows[:9]
        ]
        choices = tuple(
            Choice(
                f"my_trainings:view:{registration.code}",
                "training.option",
                {
                    "title": training.title,
                    "date": catalogs.when(locale, session.starts_at, zone, "format.day"),
                    "time": catalogs.when(locale, session.starts_at, zone, "format.time"),
                },
            )
            for registration, session, training in rows[:9]
        )
        return stay(
            Step.LIST,
            Reply(
                "my_trainings.list", {"lines": "\n".join(lines)}, choices=(*choices, MENU_CHOICE)
            ),
        )

    async def _view(self, ctx: DialogContext, code: str) -> Outcome:
        registration = await self._owned(ctx, code)
        if registration is None:
            return await self._list(ctx)
        service = _service(ctx)
        info = await service.session_info(registration.session_id)
        catalogs, locale, zone = ctx.runtime.catalogs, ctx.locale, ctx.runtime.settings.zone
        # Where aid recipients go first, a number would show who went ahead: none is given.
        position = (
            await service.waitlist_position(registration)
            if registration.status == "waitlisted" and not info.training.priority_recipients
            else 0
        )
        params: dict[str, str | int] = {
            "title": info.training.title,
            "when": catalogs.when(locale, info.session.starts_at, zone),
            "place": info.session.place,
            "code": display_code(registration.code),
            "status": registration_status(ctx, registration.status),
            "position": position,
        }
        key = "my_trainings.view_waitlisted" if position else "my_trainings.view"
        return stay(
            Step.VIEW,
            Reply(key, params, choices=(*_actions(ctx, registration, info), BACK, MENU_CHOICE)),
        )

    async def _offer_answer(self, ctx: DialogContext, choice: str) -> Outcome:
        _, code, answer = [*choice.split(":"), "", ""][:3]
        registration = await self._owned(ctx, code)
        if registration is None or registration.status != "offered":
            return finish(Reply("my_trainings.offer_closed"))
        service = _service(ctx)
        params = {"code": display_code(registration.code)}
        if answer == "yes":
            if await service.accept_offer(registration, ctx.now):
                return finish(
                    Reply("my_trainings.offer_accepted", params, choices=(BACK, MENU_CHOICE))
                )
            return finish(Reply("my_trainings.offer_closed"))
        await service.cancel(registration, ctx.now)
        return finish(Reply("my_trainings.offer_declined", params))

    async def _owned(self, ctx: DialogContext, code: str) -> TrainingRegistration | None:
        registration = await _service(ctx).by_code(code)
        if registration is None or registration.resident_id != ctx.resident.id:
            return None
        return registration


def _actions(
    ctx: DialogContext, registration: TrainingRegistration, info: SessionInfo
) -> tuple[Choice, ...]:
    """What a resident may do with a registration: answer an offered seat (the same
    choices as the pushed offer), or cancel before the session starts."""
    if info.session.starts_at <= ctx.now:
        return ()
    code = registration.code
    if registration.status == "offered":
        return (Choice(f"seat:{code}:yes", TAKE_SEAT), Choice(f"seat:{code}:no", RELEASE_SEAT))
    if registration.status in ACTIVE:
        return (Choice(f"my_trainings:cancel:{code}", "my_trainings.cancel"),)
    return ()


def _service(ctx: DialogContext) -> TrainingService:
    runtime = ctx.runtime
    return TrainingService(ctx.session, runtime.settings, runtime.catalogs, runtime.vault)
