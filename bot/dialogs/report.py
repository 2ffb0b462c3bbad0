"""Reporting an irregularity ("Lapor"): one question at a time, a summary to confirm, then a
ticket code. Proposals (usul) and objections (sanggah) are report types with their own
question about whom they concern. A proposal or an objection is about a family, not an
event, so neither is asked when it happened; each has its own story prompt. A deduction
(potongan) report asks who asked for the money, with "Tidak tahu" to skip it: the named
agents and group leaders are what the dashboard's potongan hotspots group on.

Every free-text answer is kept with NIK-like numbers masked (first and last four digits
only), so the summary, the stored report and everything shown from it never hold a raw NIK;
the resident is told once per report. Every question offers the way back to the menu.

Until the resident chooses to be named or confidential, every step is concealed: the
message log keeps nothing of it and its inbound event keeps no payload, so an anonymous
report leaves no trace that links it to the resident (its time is kept to the hour only).

```mermaid
stateDiagram-v2
    [*] --> kind
    kind --> identity
    identity --> programme
    programme --> village
    village --> village: not a village of the kecamatan
    village --> when: types other than sanggah, usul
    village --> subject: sanggah, usul
    when --> subject: oknum, potongan
    subject --> description: "Tidak tahu" (potongan)
    when --> description: other types
    subject --> description
    description --> description: too short
    description --> evidence
    evidence --> evidence: a file (checked against the limits)
    evidence --> confirm: "lanjut"
    confirm --> description: "ubah cerita"
    confirm --> village: "ubah desa"
    confirm --> duplicate: the same as an open report of the resident
    duplicate --> duplicate: anything but the offered choices
    duplicate --> [*]: added to that report
    confirm --> [*]: filed, code shown
    duplicate --> [*]: filed as a new report
    confirm --> [*]: discarded
```
(`duplicate` and the filing both end at `done`, which offers "cek laporan" and the menu.)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.dialogs.base import MENU_CHOICE, Dialog, DialogContext, Outcome, finish, stay
from bot.dialogs.routing import route_free_text
from bot.intents import Intent
from bot.messages import Choice, Reply
from bot.services.distribution_checks import DistributionCheck
from bot.services.media import MB, EvidencePolicy, MediaStore
from bot.services.registry_rows import PROGRAMMES
from bot.services.reports import KINDS, EvidenceFile, ReportDraft, ReportService
from bot.services.tickets import display_code
from bot.services.villages import VillageDirectory
from bot.text import redact_id_numbers
from storage.models import Village
from storage.repositories import registry as registry_repo


class Step(StrEnum):
    KIND = "kind"
    IDENTITY = "identity"
    PROGRAMME = "programme"
    VILLAGE = "village"
    WHEN = "when"
    SUBJECT = "subject"
    DESCRIPTION = "description"
    EVIDENCE = "evidence"
    CONFIRM = "confirm"
    DUPLICATE = "duplicate"
    DONE = "done"


SUBJECT_KINDS = frozenset({"sanggah", "usul", "oknum", "potongan"})
# Asked, but the resident may not know: a "Tidak tahu" choice skips the question.
OPTIONAL_SUBJECT_KINDS = frozenset({"potongan"})
SUBJECT_UNKNOWN = Choice("report:subject:unknown", "report.subject_unknown")
# About a family rather than an event: no "when", and a story prompt of their own.
FAMILY_KINDS = frozenset({"sanggah", "usul"})
HAPPENED_MAX = 80
SUBJECT_MAX = 300
WHEN_OPTIONS = ("today", "week", "month", "older")
VILLAGE_BUTTONS = 9
EVIDENCE_NEXT = Choice("report:evidence_next", "report.evidence_next")
SUBMIT = Choice("report:submit", "report.submit")
EDIT_DESCRIPTION = Choice("report:edit_description", "report.edit_description")
EDIT_VILLAGE = Choice("report:edit_village", "report.edit_village")
DISCARD = Choice("report:discard", "report.discard")
DUPLICATE_ADD = Choice("report:duplicate_add", "report.duplicate_add")
DUPLICATE_NEW = Choice("report:duplicate_new", "report.duplicate_new")
EVIDENCE_CHOICES = (EVIDENCE_NEXT, MENU_CHOICE)
TRACK = Choice("menu:track", "menu.track")
# ctx.data[MASKED]: a NIK-like number was masked in this turn's answer (MASKED_NEW), or the
# resident has already been told about it (MASKED_TOLD).
MASKED = "nik_masked"
MASKED_NEW = "new"
MASKED_TOLD = "told"


class ReportDialog(Dialog):
    name = "report"
    holds_draft = True
    Step = Step
    menu_key = "menu.report"
    intents = (Intent.REPORT,)

    async def start(self, ctx: DialogContext) -> Outcome:
        """Opened from the menu, or from the status check with a programme or a type."""
        preset_kind = ctx.data.get("kind")
        preset_programme = ctx.data.get("programme")
        preset_village = ctx.data.get("village")
        preset_when = ctx.data.get("when")
        check_answer = ctx.data.get("check_answer")
        ctx.data.clear()
        ctx.conceal_log = True
        if isinstance(preset_programme, str) and preset_programme in PROGRAMMES:
            ctx.data["programme"] = preset_programme
        if isinstance(preset_village, str):
            village = await registry_repo.village(ctx.session, preset_village)
            if village is not None:
                ctx.data["village"] = [village.code, village.name]
        if isinstance(preset_when, str) and preset_when:
            ctx.data["when"] = redact_id_numbers(preset_when)[:HAPPENED_MAX]
        if isinstance(check_answer, int):
            ctx.data["check_answer"] = check_answer
        if isinstance(preset_kind, str) and preset_kind in KINDS:
            ctx.data["kind"] = preset_kind
            return self._ask_identity()
        return self._ask_kind()

    async def handle(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        ctx.conceal_log = ctx.data.get("identity") not in ("named", "confidential")
        outcome = await self._answer(ctx, step)
        if ctx.data.get(MASKED) == MASKED_NEW:
            # Told once per report, before the next question.
            ctx.data[MASKED] = MASKED_TOLD
            outcome.replies.insert(0, Reply("report.nik_masked"))
        return outcome

    async def _answer(self, ctx: DialogContext, step: StrEnum) -> Outcome:
        choice = ctx.incoming.choice_id or ""
        if step is Step.KIND:
            kind = choice.removeprefix("report:kind:")
            if kind not in KINDS:
                return self._ask_kind()
            ctx.data["kind"] = kind
            return self._ask_identity()
        if step is Step.IDENTITY:
            mode = choice.removeprefix("report:identity:")
            if mode not in ("named", "confidential", "anonymous"):
                return self._ask_identity()
            ctx.data["identity"] = mode
            ctx.conceal_log = mode == "anonymous"
            if ctx.data.get("programme"):
                return await self._next_after_programme(ctx)
            return self._ask_programme(ctx)
        if step is Step.PROGRAMME:
            programme = choice.removeprefix("report:programme:")
            if programme not in (*PROGRAMMES, "unknown"):
                return self._ask_programme(ctx)
            ctx.data["programme"] = "" if programme == "unknown" else programme
            return await self._next_after_programme(ctx)
        if step is Step.VILLAGE:
            return await self._village(ctx)
        if step is Step.WHEN:
            return self._when(ctx)
        if step is Step.SUBJECT:
            return self._subject(ctx)
        if step is Step.DESCRIPTION:
            return self._description(ctx)
        if step is Step.EVIDENCE:
            return self._evidence(ctx)
        if step is Step.CONFIRM:
            return await self._confirm(ctx)
        if step is Step.DUPLICATE:
            return await self._duplicate(ctx)
        return route_free_text(ctx) if ctx.text else finish()

    async def _next_after_programme(self, ctx: DialogContext) -> Outcome:
        """The village and the date may come prefilled ("sudah terima?" after a
        distribution): only what is still missing is asked."""
        if not ctx.data.get("village"):
            return await self._ask_village(ctx)
        return self._next_after_village(ctx)

    def _next_after_village(self, ctx: DialogContext) -> Outcome:
        if not ctx.data.get("when") and ctx.data.get("kind") not in FAMILY_KINDS:
            return self._ask_when()
        return self._next_after_when(ctx)

    def _next_after_when(self, ctx: DialogContext) -> Outcome:
        if ctx.data.get("kind") in SUBJECT_KINDS:
            return self._ask_subject(ctx)
        return self._ask_description(ctx)

    # -- questions -------------------------------------------------------------------------

    def _ask_kind(self) -> Outcome:
        choices = tuple(Choice(f"report:kind:{k}", f"report.kind.{k}") for k in KINDS)
        return stay(Step.KIND, Reply("report.ask_kind", choices=(*choices, MENU_CHOICE)))

    def _ask_identity(self) -> Outcome:
        choices = tuple(
            Choice(f"report:identity:{mode}", f"report.identity.{mode}")
            for mode in ("named", "confidential", "anonymous")
        )
        return stay(Step.IDENTITY, Reply("report.ask_identity", choices=(*choices, MENU_CHOICE)))

    def _ask_programme(self, ctx: DialogContext) -> Outcome:
        key = (
            "report.ask_programme_usul"
            if ctx.data.get("kind") == "usul"
            else "report.ask_programme"
        )
        choices = (
            *(Choice(f"report:programme:{p}", f"programme_short.{p}") for p in PROGRAMMES),
            Choice("report:programme:unknown", "report.programme_unknown"),
        )
        return stay(Step.PROGRAMME, Reply(key, choices=(*choices, MENU_CHOICE)))

    async def _ask_village(
        self, ctx: DialogContext, key: str = "report.ask_village", **params: str
    ) -> Outcome:
        villages = await VillageDirectory(ctx.session).all()
        choices = tuple(
            Choice(f"report:village:{v.code}", "report.village_option", {"name": v.name})
            for v in villages[:VILLAGE_BUTTONS]
        )
        return stay(Step.VILLAGE, Reply(key, params, choices=(*choices, MENU_CHOICE)))

    def _ask_when(self, key: str = "report.ask_when", **params: int) -> Outcome:
        choices = tuple(Choice(f"report:when:{w}", f"report.when.{w}") for w in WHEN_OPTIONS)
        return stay(Step.WHEN, Reply(key, params, choices=(*choices, MENU_CHOICE)))

    def _ask_subject(self, ctx: DialogContext, *before: Reply) -> Outcome:
        kind = ctx.data["kind"]
        choices = (
            (SUBJECT_UNKNOWN, MENU_CHOICE) if kind in OPTIONAL_SUBJECT_KINDS else (MENU_CHOICE,)
        )
        ask = Reply(f"report.ask_subject.{kind}", choices=choices)
        return stay(Step.SUBJECT, *before, ask)

    def _ask_description(self, ctx: DialogContext) -> Outcome:
        kind = ctx.data.get("kind")
        key = f"report.ask_description_{kind}" if kind in FAMILY_KINDS else "report.ask_description"
        return stay(Step.DESCRIPTION, Reply(key, choices=(MENU_CHOICE,)))

    def _ask_evidence(self, ctx: DialogContext) -> Outcome:
        policy = _policy(ctx)
        params = {"max": policy.max_files, "mb": policy.max_bytes // MB}
        return stay(Step.EVIDENCE, Reply("report.ask_evidence", params, choices=EVIDENCE_CHOICES))

    def _ask_duplicate(self, code: str) -> Outcome:
        offer = Reply(
            "report.duplicate",
            {"code": display_code(code)},
            choices=(DUPLICATE_ADD, DUPLICATE_NEW, MENU_CHOICE),
        )
        return stay(Step.DUPLICATE, offer)

    # -- answers ---------------------------------------------------------------------------

    async def _village(self, ctx: DialogContext) -> Outcome:
        choice = ctx.incoming.choice_id or ""
        directory = VillageDirectory(ctx.session)
        village: Village | None = None
        if choice.startswith("report:village:"):
            code = choice.removeprefix("report:village:")
            village = next((v for v in await directory.all() if v.code == code), None)
        elif ctx.incoming.location is not None:
            ctx.data["location"] = [ctx.incoming.location.latitude, ctx.incoming.location.longitude]
            ctx.data.pop("village", None)
            return self._next_after_village(ctx)
        elif ctx.text:
            village = await directory.match(ctx.text)
            if village is None:
                shown = _typed(ctx)[:60]
                return await self._ask_village(ctx, "report.village_unknown", text=shown)
        if village is None:
            return await self._ask_village(ctx)
        ctx.data["village"] = [village.code, village.name]
        if ctx.data.get("description"):
            return _summary_outcome(ctx)
        return self._next_after_village(ctx)

    def _when(self, ctx: DialogContext) -> Outcome:
        choice = (ctx.incoming.choice_id or "").removeprefix("report:when:")
        if choice in WHEN_OPTIONS:
            label = ctx.runtime.catalogs.t(ctx.locale, f"report.when.{choice}")
            ctx.data["when"] = label
        elif len(ctx.text) > HAPPENED_MAX:
            return self._ask_when("report.when_too_long", max=HAPPENED_MAX)
        elif ctx.text:
            ctx.data["when"] = _typed(ctx)
        else:
            return self._ask_when()
        return self._next_after_when(ctx)

    def _subject(self, ctx: DialogContext) -> Outcome:
        optional = ctx.data.get("kind") in OPTIONAL_SUBJECT_KINDS
        if optional and ctx.incoming.choice_id == SUBJECT_UNKNOWN.id:
            ctx.data.pop("subject", None)
            return self._ask_description(ctx)
        if len(ctx.text) > SUBJECT_MAX:
            params = {"length": len(ctx.text), "max": SUBJECT_MAX}
            return self._ask_subject(ctx, Reply("report.subject_too_long", params))
        if len(ctx.text) < 3:
            return self._ask_subject(ctx)
        ctx.data["subject"] = _typed(ctx)
        return self._ask_description(ctx)

    def _description(self, ctx: DialogContext) -> Outcome:
        minimum = ctx.runtime.settings.report_min_chars
        if len(ctx.text) < minimum:
            params = {"length": len(ctx.text), "min": minimum}
            return stay(Step.DESCRIPTION, Reply("report.too_short", params, choices=(MENU_CHOICE,)))
        ctx.data["description"] = _typed(ctx)
        if "evidence" in ctx.data:
            return _summary_outcome(ctx)
        ctx.data["evidence"] = []
        return self._ask_evidence(ctx)

    def _evidence(self, ctx: DialogContext) -> Outcome:
        if ctx.incoming.choice_id == EVIDENCE_NEXT.id:
            return _summary_outcome(ctx)
        media = ctx.incoming.media
        policy = _policy(ctx)
        files: list[dict[str, Any]] = ctx.data.setdefault("evidence", [])
        params = {"max": policy.max_files, "mb": policy.max_bytes // MB}
        if media is None:
            return stay(Step.EVIDENCE, Reply("report.evidence_text", choices=EVIDENCE_CHOICES))
        problem = policy.problem(media.mime_type, media.size, len(files))
        if problem is None and not MediaStore(ctx.runtime.settings.media_dir).exists(media.ref):
            problem = "missing"
        if problem is not None:
            return stay(
                Step.EVIDENCE, Reply(f"report.evidence.{problem}", params, choices=EVIDENCE_CHOICES)
            )
        if all(item["sha256"] != media.ref for item in files):
            files.append(
                {
                    "sha256": media.ref,
                    "kind": media.kind,
                    "mime_type": media.mime_type or "",
                    "size": media.size or 0,
                    "filename": media.filename or "",
                    "received_at": ctx.incoming.received_at.isoformat(),
                }
            )
        received = Reply(
            "report.evidence_received", {**params, "count": len(files)}, choices=EVIDENCE_CHOICES
        )
        return stay(Step.EVIDENCE, received)

    async def _confirm(self, ctx: DialogContext) -> Outcome:
        choice = ctx.incoming.choice_id
        if choice == EDIT_DESCRIPTION.id:
            return self._ask_description(ctx)
        if choice == EDIT_VILLAGE.id:
            return await self._ask_village(ctx)
        if choice == DISCARD.id:
            ctx.data.clear()
            return finish(Reply("report.discarded"))
        if choice != SUBMIT.id:
            return _summary_outcome(ctx)
        draft = _draft(ctx)
        service = _service(ctx)
        if draft.identity_mode != "anonymous":
            existing = await service.find_duplicate(
                ctx.resident.id or 0, draft.kind, draft.village_code, draft.description, ctx.now
            )
            if existing is not None:
                ctx.data["duplicate_of"] = existing.code
                return self._ask_duplicate(existing.code)
        return await self._file(ctx, draft)

    async def _duplicate(self, ctx: DialogContext) -> Outcome:
        draft = _draft(ctx)
        code = ctx.data.get("duplicate_of")
        service = _service(ctx)
        if ctx.incoming.choice_id == DUPLICATE_ADD.id and isinstance(code, str):
            report = await service.by_code(code)
            if report is not None and report.resident_id == ctx.resident.id:
                await service.add_to(report, draft.description, draft.evidence, ctx.now)
                ctx.data.clear()
                params = {"code": display_code(code)}
                added = Reply("report.added", params, choices=(TRACK, MENU_CHOICE))
                return stay(Step.DONE, added)
        if ctx.incoming.choice_id == DUPLICATE_NEW.id:
            return await self._file(ctx, draft)
        if not isinstance(code, str):
            return _summary_outcome(ctx)
        return self._ask_duplicate(code)

    async def _file(self, ctx: DialogContext, draft: ReportDraft) -> Outcome:
        anonymous = draft.identity_mode == "anonymous"
        report = await _service(ctx).file(
            draft,
            None if anonymous else ctx.resident.id,
            None if anonymous else ctx.identity_id,
            ctx.now,
        )
        check_answer = ctx.data.get("check_answer")
        if isinstance(check_answer, int) and report.id is not None and not anonymous:
            # An anonymous report stays unlinked to the chat, "sudah terima?" answer included.
            checks = DistributionCheck(ctx.session, ctx.runtime.settings, ctx.runtime.catalogs)
            await checks.link_report(check_answer, ctx.identity_id, report.id)
        ctx.data.clear()
        days = _service(ctx).sla_days(draft.kind, "verify")
        key = "report.filed_anonymous" if anonymous else "report.filed"
        replies = [Reply(key, {"code": display_code(report.code), "days": days})]
        if draft.kind == "usul":
            replies.append(Reply("report.usul_checklist"))
        replies[-1] = Reply(replies[-1].key, replies[-1].params, choices=(TRACK, MENU_CHOICE))
        return stay(Step.DONE, *replies)


def _typed(ctx: DialogContext) -> str:
    """The resident's free-text answer as it may be kept: NIK-like numbers masked."""
    masked = redact_id_numbers(ctx.text)
    if masked != ctx.text and ctx.data.get(MASKED) != MASKED_TOLD:
        ctx.data[MASKED] = MASKED_NEW
    return masked


def _policy(ctx: DialogContext) -> EvidencePolicy:
    settings = ctx.runtime.settings
    return EvidencePolicy(
        max_files=settings.evidence_max_files, max_bytes=settings.evidence_max_mb * MB
    )


def _service(ctx: DialogContext) -> ReportService:
    return ReportService(ctx.session, ctx.runtime.settings, ctx.runtime.catalogs)


def _draft(ctx: DialogContext) -> ReportDraft:
    data = ctx.data
    village = data.get("village")
    location = data.get("location")
    return ReportDraft(
        kind=str(data.get("kind", "lainnya")),
        description=str(data.get("description", "")),
        identity_mode=str(data.get("identity", "anonymous")),
        locale=ctx.locale,
        programme=str(data.get("programme", "")),
        village_code=village[0] if isinstance(village, list) else None,
        latitude=location[0] if isinstance(location, list) else None,
        longitude=location[1] if isinstance(location, list) else None,
        happened=str(data.get("when", "")),
        subject=str(data.get("subject", "")),
        evidence=[
            EvidenceFile(
                sha256=item["sha256"],
                kind=item["kind"],
                mime_type=item["mime_type"],
                size=int(item["size"]),
                filename=item["filename"],
                received_at=datetime.fromisoformat(item["received_at"]),
            )
            for item in data.get("evidence", [])
        ],
    )


def _summary_outcome(ctx: DialogContext) -> Outcome:
    t, locale, data = ctx.runtime.catalogs.t, ctx.locale, ctx.data
    village = data.get("village")
    location = data.get("location")
    if isinstance(village, list):
        village_text = str(village[1])
    elif isinstance(location, list):
        village_text = f"{location[0]:.5f}, {location[1]:.5f}"
    else:
        village_text = "-"
    programme = str(data.get("programme") or "")
    subject = str(data.get("subject") or "")
    when = str(data.get("when") or ("" if data.get("kind") in FAMILY_KINDS else "-"))
    params: dict[str, str | int] = {
        "kind": t(locale, f"report.kind.{data.get('kind', 'lainnya')}"),
        "programme": t(locale, f"programme.{programme}")
        if programme
        else t(locale, "report.programme_unknown"),
        "village": village_text,
        "when": t(locale, "report.summary_when", {"when": when}) if when else "",
        "subject": t(locale, "report.summary_subject", {"subject": subject}) if subject else "",
        "description": str(data.get("description", "")),
        "evidence": len(data.get("evidence", [])),
        "identity": t(locale, f"report.identity.{data.get('identity', 'anonymous')}"),
    }
    choices = (SUBMIT, EDIT_DESCRIPTION, EDIT_VILLAGE, DISCARD)
    return stay(Step.CONFIRM, Reply("report.summary", params, choices=choices))
