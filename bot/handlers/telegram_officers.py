"""The officers' Telegram group (`TELEGRAM_OFFICER_CHAT_ID`): new reports are posted there
with buttons, and linked officers act on them with the same rules as the dashboard.

Only Telegram accounts linked to an officer account ("/link CODE" in a private chat, the
code from `bansos officer link-telegram`) may press the buttons; role and village scope
come from `ReportService`. Reports that name an officer are never posted (admins only).
Messages here go to officers, not residents, so they are sent directly; the posts
themselves are recorded in `officer_post`.
"""

from __future__ import annotations

import contextlib
import html
import logging
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handlers.rate import InFlight, SlidingWindow, TokenBucket
from bot.runtime import Runtime
from bot.services.media import MediaStore
from bot.services.officers import OfficerService
from bot.services.reports import (
    InvalidTransition,
    NotAllowed,
    ReasonRequired,
    ReportNotFound,
    ReportService,
    viewer_for,
)
from bot.services.tickets import display_code
from bot.text import redact_id_numbers
from storage.models import Officer, OfficerPost, Report, ReportEvidence, Village
from storage.types import utcnow

log = logging.getLogger(__name__)

ACTIONS = {"verify": "diverifikasi", "follow": "ditindaklanjuti", "done": "selesai"}
BUTTONS = ("take", "verify", "follow", "done", "reject")
EXCERPT = 300
GROUP_PER_MINUTE = 20
GROUP_BURST = 5
PHOTOS = 3


class OfficerDesk:
    def __init__(self, runtime: Runtime, bot: Bot, window: SlidingWindow) -> None:
        """`window` is the bot's global limit, shared with the outbox sender: a post to
        the group during a broadcast counts against the same 30 a second."""
        self.runtime = runtime
        self.bot = bot
        self.window = window
        self.chat_id = runtime.settings.telegram_officer_chat_id
        self.locale = runtime.settings.default_locale
        # Telegram allows a bot about 20 messages a minute in one group.
        self.group_rate = TokenBucket.per_second(GROUP_PER_MINUTE / 60, GROUP_BURST)

    async def _group_turn(self) -> InFlight:
        """Wait for the group's pace, then for the bot's: `with await self._group_turn():`."""
        await self.group_rate.acquire()
        return await self.window.turn()

    def t(self, key: str, **params: Any) -> str:
        return self.runtime.catalogs.t(self.locale, key, params)

    # -- posting ---------------------------------------------------------------------------

    async def post_new_reports(self, since: datetime) -> int:
        """Post every report filed since `since` that has no post yet."""
        if self.chat_id is None:
            return 0
        async with self.runtime.db.session() as session:
            posted = select(OfficerPost.report_id)
            statement = (
                select(Report)
                .where(
                    col(Report.created_at) >= since,
                    col(Report.accused_officer_id).is_(None),
                    col(Report.merged_into_id).is_(None),
                    col(Report.id).not_in(posted),
                )
                .order_by(col(Report.id))
                .limit(20)
            )
            reports = (await session.exec(statement)).all()
            texts = [await self._post_text(session, report) for report in reports]
        count = 0
        for report, text in zip(reports, texts, strict=True):
            try:
                with await self._group_turn():
                    sent = await self.bot.send_message(
                        self.chat_id,
                        text,
                        parse_mode="HTML",
                        reply_markup=self._buttons(report.code),
                    )
            except TelegramAPIError as error:
                log.warning("officer post failed: %s", type(error).__name__)
                break
            async with self.runtime.db.transaction() as session:
                session.add(
                    OfficerPost(
                        report_id=report.id or 0,
                        chat_id=str(self.chat_id),
                        message_id=sent.message_id,
                    )
                )
            await self._post_photos(report, sent.message_id)
            count += 1
        return count

    async def _post_photos(self, report: Report, reply_to: int) -> None:
        """Photo evidence under the post, as copies without EXIF/GPS metadata."""
        async with self.runtime.db.session() as session:
            files = (
                await session.exec(
                    select(ReportEvidence)
                    .where(ReportEvidence.report_id == report.id, ReportEvidence.kind == "photo")
                    .limit(PHOTOS)
                )
            ).all()
        store = MediaStore(self.runtime.settings.media_dir)
        for item in files:
            if not store.exists(item.sha256):
                continue
            content = store.shareable(item.sha256, item.mime_type)
            if not content:
                continue
            with contextlib.suppress(TelegramAPIError), await self._group_turn():
                await self.bot.send_photo(
                    self.chat_id or 0,
                    BufferedInputFile(content, filename="bukti.jpg"),
                    reply_to_message_id=reply_to,
                )

    async def _post_text(self, session: AsyncSession, report: Report) -> str:
        village = await session.get(Village, report.village_code) if report.village_code else None
        assignee = await session.get(Officer, report.assignee_id) if report.assignee_id else None
        excerpt = redact_id_numbers(report.description)
        if len(excerpt) > EXCERPT:
            excerpt = excerpt[:EXCERPT].rstrip() + "…"
        return self.t(
            "telegram.officer.post",
            code=display_code(report.code),
            status=self.t(f"report.status.{report.status}"),
            kind=self.t(f"report.kind.{report.kind}"),
            village=html.escape(village.name if village else "-"),
            programme=report.programme or "-",
            assignee=html.escape(
                assignee.display_name if assignee else self.t("telegram.officer.unassigned")
            ),
            excerpt=html.escape(excerpt),
        )

    def _buttons(self, code: str) -> InlineKeyboardMarkup:
        buttons = [
            InlineKeyboardButton(
                text=self.t(f"telegram.officer.{action}"), callback_data=f"off:{code}:{action}"
            )
            for action in BUTTONS
        ]
        return InlineKeyboardMarkup(inline_keyboard=[buttons[:3], buttons[3:]])

    # -- updates ---------------------------------------------------------------------------

    async def handle_update(self, update: dict[str, Any]) -> bool:
        """True when the update was for the desk (a button, a reason, a /link)."""
        query = update.get("callback_query")
        if isinstance(query, dict) and str(query.get("data", "")).startswith("off:"):
            await self._button(query)
            return True
        message = update.get("message")
        if not isinstance(message, dict):
            return False
        chat = message.get("chat") or {}
        text = str(message.get("text") or "")
        if chat.get("type") == "private" and text.startswith("/link"):
            await self._link(message, text.removeprefix("/link").strip())
            return True
        if self.chat_id is not None and chat.get("id") == self.chat_id:
            reply_to = message.get("reply_to_message") or {}
            if reply_to.get("message_id") and text:
                await self._reason(message, int(reply_to["message_id"]), text)
            return True  # other chatter in the officers' group is not for the bot
        return False

    async def _link(self, message: dict[str, Any], code: str) -> None:
        user_id = str((message.get("from") or {}).get("id"))
        async with self.runtime.db.transaction() as session:
            officer = await OfficerService(session, self.runtime.vault).link_telegram(
                code, user_id, utcnow()
            )
            answer = (
                self.t("telegram.officer.linked", name=html.escape(officer.display_name))
                if officer
                else self.t("telegram.officer.link_failed")
            )
        with contextlib.suppress(TelegramAPIError), await self.window.turn():
            await self.bot.send_message(int(message["chat"]["id"]), answer, parse_mode="HTML")

    async def _button(self, query: dict[str, Any]) -> None:
        _, code, action = [*str(query["data"]).split(":"), "", ""][:3]
        user_id = str((query.get("from") or {}).get("id"))
        now = utcnow()
        alert = ""
        async with self.runtime.db.transaction() as session:
            officer = await OfficerService(session, self.runtime.vault).by_telegram(user_id)
            service = ReportService(session, self.runtime.settings, self.runtime.catalogs)
            report = await service.by_code(code)
            if officer is None or report is None:
                alert = self.t("telegram.officer.not_linked")
            else:
                try:
                    viewer = await viewer_for(session, officer.id or 0)
                    report = await service.get(viewer, report.id or 0, now)
                    alert = await self._act(session, service, viewer.officer_id, report, action)
                except (ReportNotFound, NotAllowed):
                    alert = self.t("telegram.officer.not_allowed")
                except InvalidTransition as error:
                    alert = self.t(
                        "telegram.officer.bad_transition",
                        status=self.t(f"report.status.{error.current}"),
                    )
        with contextlib.suppress(TelegramAPIError):
            await self.bot.answer_callback_query(
                str(query["id"]),
                text=alert or self.t("telegram.officer.saved"),
                show_alert=bool(alert),
            )
        if not alert and report is not None:
            await self._refresh(report.id or 0)

    async def _act(
        self,
        session: AsyncSession,
        service: ReportService,
        officer_id: int,
        report: Report,
        action: str,
    ) -> str:
        viewer = await viewer_for(session, officer_id)
        now = utcnow()
        if action == "take":
            await service.assign(viewer, report, officer_id, now)
            return ""
        if action in ACTIONS:
            status = ACTIONS[action]
            message = self.runtime.catalogs.t(report.locale, f"telegram.officer.public.{status}")
            await service.change_status(viewer, report, status, now, message)
            return ""
        if action == "reject":
            if viewer.role == "viewer":
                raise NotAllowed("viewers are read-only")
            officer = await session.get(Officer, officer_id)
            with await self._group_turn():
                prompt = await self.bot.send_message(
                    self.chat_id or 0,
                    self.t(
                        "telegram.officer.ask_reason",
                        name=html.escape(officer.display_name if officer else ""),
                        code=display_code(report.code),
                    ),
                    parse_mode="HTML",
                    reply_markup=ForceReply(selective=False),
                )
            post = await session.get(OfficerPost, report.id)
            if post is not None:
                post.rejecting_officer_id = officer_id
                post.prompt_message_id = prompt.message_id
                session.add(post)
            return ""
        return self.t("telegram.officer.not_allowed")

    async def _reason(self, message: dict[str, Any], prompt_id: int, reason: str) -> None:
        user_id = str((message.get("from") or {}).get("id"))
        now = utcnow()
        async with self.runtime.db.transaction() as session:
            post = (
                await session.exec(
                    select(OfficerPost).where(OfficerPost.prompt_message_id == prompt_id)
                )
            ).first()
            officer = await OfficerService(session, self.runtime.vault).by_telegram(user_id)
            if post is None or officer is None or post.rejecting_officer_id != officer.id:
                return
            service = ReportService(session, self.runtime.settings, self.runtime.catalogs)
            viewer = await viewer_for(session, officer.id or 0)
            try:
                report = await service.get(viewer, post.report_id, now)
                await service.change_status(viewer, report, "ditolak", now, reason)
            except (ReportNotFound, NotAllowed, InvalidTransition, ReasonRequired):
                return
            post.rejecting_officer_id = None
            post.prompt_message_id = None
            session.add(post)
            report_id = post.report_id
        await self._refresh(report_id)

    async def _refresh(self, report_id: int) -> None:
        """Edit the post so the group sees the current status and assignee."""
        async with self.runtime.db.session() as session:
            post = await session.get(OfficerPost, report_id)
            report = await session.get(Report, report_id)
            if post is None or report is None:
                return
            text = await self._post_text(session, report)
        with contextlib.suppress(TelegramAPIError), await self._group_turn():
            await self.bot.edit_message_text(
                text=text,
                chat_id=int(post.chat_id),
                message_id=post.message_id,
                parse_mode="HTML",
                reply_markup=self._buttons(report.code),
            )
