"""Training registration ("Daftar pelatihan"): open sessions near the resident, details,
then NIK, name, phone and the training's own questions, one at a time. The outcome is a
seat with a code, or a place on the waitlist.

```mermaid
stateDiagram-v2
    [*] --> list: open sessions, the resident's village first
    list --> detail: a session
    detail --> list: "pelatihan lain"
    detail --> saved_nik: "daftar", a NIK was remembered
    detail --> nik: "daftar"
    saved_nik --> name: "pakai NIK tersimpan"
    saved_nik --> nik: "NIK lain"
    nik --> nik: not a NIK (length, date, region, photo)
    nik --> [*]: not eligible (age, already registered), with the reason
    nik --> name
    name --> village: the training is for one village (a typed NIK: always)
    name --> phone
    village --> list: not the training's village
    village --> phone
    phone --> phone: not a phone number
    phone --> question: the training has questions
    phone --> [*]: registered (seat and code) or waitlisted (position)
    question --> question: the next question
    question --> [*]: registered or waitlisted
```

A typed NIK is never looked up in the aid register: every answer is the same whether it is
there or not, so the journey cannot be used to probe NIKs. Only the resident's own NIK,
remembered after a status check that matched the register, gives us their village.
Whether an aid recipient goes first on the waitlist is decided silently by the service;
on such a training nobody is told a waitlist number, as it would show who went ahead.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, finish, stay
from bot.dialogs.nik_prompts import NIK_PROBLEM_KEYS, saved_nik
from bot.intents import Intent
from bot.messages import Choice, Reply
from bot.services.names import normalise_name
from bot.services.nik import InvalidNik, birth_date_from_nik, parse_nik
from bot.services.pii import mask_nik
from bot.services.tickets import display_code
from bot.services.trainings import (
    AlreadyRegistered,
    Applicant,
    NotEligible,
    SessionInfo,
    SessionNotFound,
    TrainingService,
)
from bot.services.villages import VillageDirectory
from bot.text import redact_id_numbers, row_id
from storage.models import TrainingRegistration

SHOWN_SESSIONS = 9
REGISTER = Choice("training:register", "training.register")
OTHERS = Choice("training:list", "training.others")
USE_SAVED = Choice("training:use_saved", "status.use_saved")
OTHER_NIK = Choice("training:other_nik", "training.other_nik")
MINE = Choice("menu:my_trainings", "menu.my_trainings")
_PHONE = re.compile(r"^(?:\+?62|0)(8\d{8,11})$")


class Step(StrEnum):
    LIST = "list"
    DETAIL = "detail"
    SAVED_NIK = "saved_nik"
    NIK = "nik"
    NAME = "name"
    VILLAGE = "village"
    PHONE = "phone"
    QUESTION = "question"


def phone_number(text: str) -> str | None:
    """'0812-3456-7890', '+62 812 3456 7890' → '081234567890'; None if not a mobile number."""
    digits = re.sub(r"[\s\-().]", "", text)
    match = _PHONE.match(digits)
    return "0" + match.group(1) if match else None


class TrainingDialog(Dialog):
    name = "training"
    holds_draft = True
    Step = Step
    menu_key = "menu.training"
    intents = (Intent.TRAINING,)
    # A training in an old list (or a shared message) still opens its details.
    global_choice_prefixes = ("training:session:",)

    async def start(self, ctx: DialogContext) -> Outcome:
        ctx.data.clear()
        choice = ctx.incoming.choice_id or ""
        if choice.startswith("training:session:"):
            return await self._detail(ctx, _session_id(choice))
        return await self._list(ctx)

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id or ""
        if choice == OTHERS.id:
            return await self._list(ctx)
        if choice.startswith("training:session:"):
            return await self._detail(ctx, _session_id(choice))
        if step is Step.DETAIL and choice == REGISTER.id:
            return await self._begin(ctx)
        if step is Step.SAVED_NIK:
            if choice == USE_SAVED.id and ctx.resident.saved_nik_encrypted:
                nik = saved_nik(ctx)
                return await self._nik(ctx, nik) if nik else self._ask_nik()
            if choice == OTHER_NIK.id:
                return self._ask_nik()
        if step is Step.NIK:
            if ctx.incoming.media is not None:
                return self._ask_nik("status.no_photo")
            try:
                return await self._nik(ctx, parse_nik(ctx.text))
            except InvalidNik as invalid:
                return self._ask_nik(NIK_PROBLEM_KEYS[invalid.problem], count=invalid.digits)
        if step is Step.NAME:
            return await self._name(ctx)
        if step is Step.VILLAGE:
            return await self._village(ctx)
        if step is Step.PHONE:
            return await self._phone(ctx)
        if step is Step.QUESTION:
            return await self._answer(ctx)
        return await self._list(ctx)

    # -- browsing ----------------------------------------------------------------------------

    async def _list(self, ctx: DialogContext) -> Outcome:
        service = _service(ctx)
        home = None
        if ctx.resident.saved_nik_hash:
            home = await service.home_village(ctx.resident.saved_nik_hash)
        sessions = (await service.open_sessions(ctx.now, home))[:SHOWN_SESSIONS]
        if not sessions:
            return finish(Reply("training.none_open"))
        lines = [_line(ctx, info) for info in sessions]
        zone = ctx.runtime.settings.zone
        choices = tuple(
            Choice(
                f"training:session:{info.session.id}",
                "training.option",
                {
                    "title": info.training.title,
                    "date": ctx.runtime.catalogs.when(
                        ctx.locale, info.session.starts_at, zone, "format.day"
                    ),
                    "time": ctx.runtime.catalogs.when(
                        ctx.locale, info.session.starts_at, zone, "format.time"
                    ),
                },
            )
            for info in sessions
        )
        listing = Reply(
            "training.list", {"sessions": "\n".join(lines)}, choices=(*choices, MENU_CHOICE)
        )
        return stay(Step.LIST, listing)

    async def _detail(self, ctx: DialogContext, session_id: int) -> Outcome:
        try:
            info = await _service(ctx).session_info(session_id)
        except SessionNotFound:
            return await self._list(ctx)
        ctx.data.clear()
        ctx.data["session"] = session_id
        catalogs, locale, zone = ctx.runtime.catalogs, ctx.locale, ctx.runtime.settings.zone
        training = info.training
        rules = []
        if training.min_age is not None or training.max_age is not None:
            rules.append(
                catalogs.t(
                    locale,
                    "training.rule_age",
                    {"min": training.min_age or 0, "max": training.max_age or 99},
                )
            )
        if training.village_code:
            rules.append(
                catalogs.t(locale, "training.rule_village", {"village": info.village_name})
            )
        if training.target_group:
            rules.append(
                catalogs.t(locale, "training.rule_group", {"group": training.target_group})
            )
        if training.priority_recipients:
            rules.append(catalogs.t(locale, "training.rule_priority"))
        seats = (
            catalogs.t(locale, "training.seats_left", {"n": info.seats_left})
            if info.seats_left
            else catalogs.t(locale, "training.full")
        )
        params = {
            "title": training.title,
            "description": training.description,
            "organiser": training.organiser,
            "when": catalogs.when(locale, info.session.starts_at, zone),
            "until": catalogs.when(locale, info.session.ends_at, zone, "format.time"),
            "place": info.session.place,
            "village": info.village_name,
            "seats": seats,
            "deadline": catalogs.when(locale, info.session.registration_deadline, zone),
            "rules": "\n".join(rules) or catalogs.t(locale, "training.rule_open"),
        }
        return stay(
            Step.DETAIL, Reply("training.detail", params, choices=(REGISTER, OTHERS, MENU_CHOICE))
        )

    # -- registering -------------------------------------------------------------------------

    async def _begin(self, ctx: DialogContext) -> Outcome:
        nik = saved_nik(ctx)
        if nik is not None:
            offer = Reply(
                "training.ask_saved_nik",
                {"nik": mask_nik(nik)},
                choices=(USE_SAVED, OTHER_NIK, MENU_CHOICE),
            )
            return stay(Step.SAVED_NIK, offer)
        return self._ask_nik()

    def _ask_nik(self, key: str = "training.ask_nik", **params: str | int) -> Outcome:
        return stay(Step.NIK, Reply(key, params, choices=(MENU_CHOICE,)))

    async def _nik(self, ctx: DialogContext, nik: str) -> Outcome:
        service = _service(ctx)
        try:
            info = await service.session_info(int(ctx.data.get("session", 0)))
        except SessionNotFound:
            return await self._list(ctx)
        try:
            birth = birth_date_from_nik(nik, ctx.now.astimezone(ctx.runtime.settings.zone).date())
        except InvalidNik:
            return self._ask_nik("status.nik_birth_date")
        nik_hash = ctx.runtime.vault.lookup_hash(nik)
        home = await _own_home_village(ctx, service, nik_hash)
        try:
            service.check_eligible(info, Applicant(nik, birth, "", "", home), ctx.now)
        except NotEligible as refused:
            # Without a known village the resident is asked for it after their name.
            if refused.reason != "village" or home is not None:
                return self._refuse(ctx, refused)
        existing = await service.registration_for(info.session.id or 0, nik_hash)
        if existing is not None:
            return _already(ctx, existing)
        ctx.data.update(nik_sealed=ctx.runtime.vault.encrypt(nik), birth=birth.isoformat())
        if home is not None:
            ctx.data["home"] = home
        return stay(
            Step.NAME, Reply("training.ask_name", {"nik": mask_nik(nik)}, choices=(MENU_CHOICE,))
        )

    async def _name(self, ctx: DialogContext) -> Outcome:
        name = normalise_name(ctx.text)
        if not name:
            return stay(Step.NAME, Reply("status.name_needed", choices=(MENU_CHOICE,)))
        ctx.data["name"] = name[:200]
        info = await _service(ctx).session_info(int(ctx.data["session"]))
        if info.training.village_code and not ctx.data.get("home"):
            return stay(Step.VILLAGE, Reply("training.ask_village", choices=(MENU_CHOICE,)))
        return self._ask_phone(ctx)

    async def _village(self, ctx: DialogContext) -> Outcome:
        village = await VillageDirectory(ctx.session).match(ctx.text) if ctx.text else None
        if village is None:
            return stay(Step.VILLAGE, Reply("training.ask_village", choices=(MENU_CHOICE,)))
        service = _service(ctx)
        info = await service.session_info(int(ctx.data["session"]))
        try:
            service.check_village(info, village.code)
        except NotEligible as refused:
            return self._refuse(ctx, refused)
        ctx.data["home"] = village.code
        return self._ask_phone(ctx)

    def _ask_phone(self, ctx: DialogContext) -> Outcome:
        return stay(
            Step.PHONE, Reply("training.ask_phone", choices=(MENU_CHOICE,), ask_contact=True)
        )

    async def _phone(self, ctx: DialogContext) -> Outcome:
        raw = ctx.incoming.contact.phone if ctx.incoming.contact else ctx.text
        phone = phone_number(raw or "")
        if phone is None:
            return stay(
                Step.PHONE, Reply("training.bad_phone", choices=(MENU_CHOICE,), ask_contact=True)
            )
        ctx.data["phone"] = phone
        ctx.data["answers"] = {}
        return await self._next_question(ctx)

    async def _next_question(self, ctx: DialogContext) -> Outcome:
        info = await _service(ctx).session_info(int(ctx.data["session"]))
        answers: dict[str, str] = ctx.data.get("answers", {})
        questions = [str(q) for q in info.training.questions]
        if len(answers) < len(questions):
            question = questions[len(answers)]
            return stay(
                Step.QUESTION,
                Reply("training.question", {"question": question}, choices=(MENU_CHOICE,)),
            )
        return await self._register(ctx, info)

    async def _answer(self, ctx: DialogContext) -> Outcome:
        if not ctx.text:
            return await self._next_question(ctx)
        info = await _service(ctx).session_info(int(ctx.data["session"]))
        answers: dict[str, str] = ctx.data.setdefault("answers", {})
        questions = [str(q) for q in info.training.questions]
        if len(answers) < len(questions):
            # Free text like a report's: a NIK typed here is masked before it is kept.
            answers[questions[len(answers)]] = redact_id_numbers(ctx.text[:500])
        return await self._next_question(ctx)

    async def _register(self, ctx: DialogContext, info: SessionInfo) -> Outcome:
        data = ctx.data
        nik = ctx.runtime.vault.decrypt(str(data["nik_sealed"]))
        applicant = Applicant(
            nik=nik,
            birth_date=date.fromisoformat(str(data["birth"])),
            full_name=str(data["name"]),
            phone=str(data["phone"]),
            home_village=data.get("home"),
            answers=dict(data.get("answers", {})),
        )
        service = _service(ctx)
        try:
            outcome = await service.register(
                info.session.id or 0,
                applicant,
                ctx.now,
                ctx.resident.id,
                ctx.identity_id,
                ctx.locale,
            )
        except NotEligible as refused:
            return self._refuse(ctx, refused)
        except AlreadyRegistered as already:
            return _already(ctx, already.registration)
        data.clear()
        catalogs, zone = ctx.runtime.catalogs, ctx.runtime.settings.zone
        params: dict[str, str | int] = {
            "title": info.training.title,
            "code": display_code(outcome.registration.code),
            "when": catalogs.when(ctx.locale, info.session.starts_at, zone),
            "place": info.session.place,
            "position": outcome.position,
            "hours": ctx.runtime.settings.training_offer_hours,
        }
        if outcome.position == 0:
            key = "training.confirmed"
        elif info.training.priority_recipients:
            key = "training.waitlisted_priority"
        else:
            key = "training.waitlisted"
        # No buttons here: the main menu follows (with "Pelatihan saya"), and a channel that
        # showed a contact button can take it away with this message.
        return finish(Reply(key, params))

    def _refuse(self, ctx: DialogContext, refused: NotEligible) -> Outcome:
        ctx.data.clear()
        params = {k: v for k, v in refused.params.items() if isinstance(v, (str, int))}
        return stay(
            Step.LIST,
            Reply(f"training.not_eligible.{refused.reason}", params, choices=(OTHERS, MENU_CHOICE)),
        )


async def _own_home_village(
    ctx: DialogContext, service: TrainingService, nik_hash: str
) -> str | None:
    """The register's village for the resident's own remembered NIK (saved after a status
    check matched it, with consent); None for any other NIK, which is never looked up."""
    if ctx.resident.saved_nik_hash is None or ctx.resident.saved_nik_hash != nik_hash:
        return None
    return await service.home_village(nik_hash)


def _already(ctx: DialogContext, registration: TrainingRegistration) -> Outcome:
    """The code and status only for the resident who registered; anyone else learns no
    more than that the NIK is taken for this session, and whom to ask."""
    if registration.identity_id == ctx.identity_id or (
        registration.resident_id is not None and registration.resident_id == ctx.resident.id
    ):
        params = {
            "code": display_code(registration.code),
            "status": registration_status(ctx, registration.status),
        }
        return finish(Reply("training.already", params, choices=(MINE, MENU_CHOICE)))
    settings = ctx.runtime.settings
    office = {"office": settings.office_name, "contact": settings.office_contact}
    return finish(Reply("training.already_other", office))


def _session_id(choice: str) -> int:
    return row_id(choice.removeprefix("training:session:")) or 0


def _service(ctx: DialogContext) -> TrainingService:
    runtime = ctx.runtime
    return TrainingService(ctx.session, runtime.settings, runtime.catalogs, runtime.vault)


def registration_status(ctx: DialogContext, status: str) -> str:
    return ctx.runtime.catalogs.t(ctx.locale, f"training.status.{status}")


def _line(ctx: DialogContext, info: SessionInfo) -> str:
    catalogs, locale = ctx.runtime.catalogs, ctx.locale
    seats = (
        catalogs.t(locale, "training.seats_left", {"n": info.seats_left})
        if info.seats_left
        else catalogs.t(locale, "training.full")
    )
    return catalogs.t(
        locale,
        "training.line",
        {
            "title": info.training.title,
            "when": catalogs.when(
                locale, info.session.starts_at, ctx.runtime.settings.zone, "format.date"
            ),
            "place": info.session.place,
            "village": info.village_name,
            "seats": seats,
        },
    )
