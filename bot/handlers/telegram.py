"""The Telegram channel on aiogram 3: a thin adapter over the engine (DESIGN.md rules 1-3).

Inbound: every update (webhook or long polling) is sealed (encrypted: it may hold a NIK)
and stored, unique on `update_id`, before Telegram is answered or the polling offset moves.
A worker turns stored updates into `Incoming` and runs the engine with `queue_replies`, so
each step's replies become outbox rows in the same transaction.

Outbound: the sender claims pending outbox rows, renders them (HTML-escaped text split at
4,096 characters, inline keyboards with `callback_data` ≤ 64 bytes, a contact button when a
reply asks for the phone) and sends them within Telegram's limits: about 30 messages a
second per bot, short bursts then one a second per chat; a 429 pauses all sends for its
`retry_after`; 5xx and network errors back off; a 403 marks the chat unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import io
import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import Response as ApiAnswer
from aiogram.types import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, select

from bot.engine import Engine, StorageUnavailable
from bot.handlers.bodies import body_within
from bot.handlers.outbox_flush import ResultBuffer
from bot.handlers.parallel import at_most
from bot.handlers.rate import InFlight, SlidingWindow, TokenBucket
from bot.handlers.render import split_text
from bot.handlers.telegram_officers import OfficerDesk
from bot.handlers.worker_pass import guarded
from bot.messages import Channel, Contact, Incoming, Location, Media
from bot.runtime import Runtime
from bot.services.media import MB, MediaStore
from storage.db import Leadership
from storage.models import InboundEvent, Outbox
from storage.repositories import outbox as outbox_repo
from storage.types import utcnow

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64
DOWNLOAD_LIMIT = 20 * MB  # the Bot API's getFile limit
SHORT_LABEL = 16
COMMAND_WORDS = {
    "start": "menu",
    "menu": "menu",
    "bantuan": "bantuan",
    "bahasa": "bahasa",
    "batal": "batal",
    "help": "bantuan",
    "language": "bahasa",
    "cancel": "batal",
}
BACKOFF_CAP = timedelta(minutes=5)
MAX_ATTEMPTS = 8
PARALLEL_CHATS = 16
# A "sending" row claimed by another instance more than TELEGRAM_RECLAIM_SECONDS ago was
# interrupted; one of this instance's own, after STALE_CLAIM. Telegram has no way to ask
# whether a message went out, so the wait only keeps a row away from a predecessor still
# finishing its pass.
STALE_CLAIM = timedelta(minutes=10)
MAX_BODY = 1024 * 1024  # Telegram updates are a few kilobytes
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def make_bot(runtime: Runtime) -> Bot:
    settings = runtime.settings
    assert settings.telegram_bot_token is not None
    server = TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
    return Bot(settings.telegram_bot_token.get_secret_value(), session=AiohttpSession(api=server))


# -- inbound -------------------------------------------------------------------------------


class TelegramInbox:
    """Stores updates before anything else happens (webhook 200 / polling offset)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def store(self, update: dict[str, Any]) -> bool:
        """True for a new update; False for one already stored (a redelivery)."""
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            raise ValueError("an update needs an integer update_id")
        sealed = self.runtime.vault.encrypt(json.dumps(update))
        try:
            async with self.runtime.db.transaction() as session:
                existing = await session.exec(
                    select(InboundEvent.id).where(
                        InboundEvent.channel == Channel.TELEGRAM,
                        InboundEvent.platform_id == str(update_id),
                    )
                )
                if existing.first() is not None:
                    return False
                session.add(
                    InboundEvent(
                        channel=Channel.TELEGRAM,
                        platform_id=str(update_id),
                        payload={"sealed": sealed},
                    )
                )
        except IntegrityError:
            return False
        return True


class TelegramChannel:
    """Turns stored updates into engine steps."""

    def __init__(
        self,
        runtime: Runtime,
        engine: Engine,
        bot: Bot,
        window: SlidingWindow,
        desk: OfficerDesk | None = None,
    ) -> None:
        """`window` is the bot's global limit, shared with the outbox sender: the edits
        that take the buttons off a tapped message count in it too."""
        self.runtime = runtime
        self.engine = engine
        self.bot = bot
        self.window = window
        self.media = MediaStore(runtime.settings.media_dir)
        self.desk = desk

    async def process_pending(self, limit: int = 100) -> int:
        """Handle every stored, unprocessed update, oldest first; returns how many."""
        async with self.runtime.db.session() as session:
            rows = (
                await session.exec(
                    select(InboundEvent)
                    .where(
                        InboundEvent.channel == Channel.TELEGRAM,
                        InboundEvent.status == "received",
                    )
                    .order_by(col(InboundEvent.id))
                    .limit(limit)
                )
            ).all()
        # Chats are handled side by side; each chat's updates strictly in order.
        by_chat: dict[str, list[Incoming]] = {}
        for row in rows:
            try:
                incoming = await self._read(row)
            except (DBAPIError, OSError):
                raise
            except Exception:
                # An update we cannot read must not block the ones behind it.
                log.exception("telegram inbound row %s could not be read; skipped", row.id)
                incoming = None
            if incoming is None:
                await self._mark_ignored(row.id or 0)
            else:
                by_chat.setdefault(incoming.sender_id, []).append(incoming)

        async def run_chat(items: list[Incoming]) -> None:
            for incoming in items:
                await self.engine.handle(incoming, queue_replies=True)

        await at_most(PARALLEL_CHATS, by_chat.values(), run_chat)
        return len(rows)

    async def _read(self, row: InboundEvent) -> Incoming | None:
        """The engine's input for a stored update; None when the officers' desk took it
        or there is nothing to answer."""
        sealed = row.payload.get("sealed")
        if not isinstance(sealed, str):
            return None
        update = json.loads(self.runtime.vault.decrypt(sealed))
        if self.desk is not None and await self.desk.handle_update(update):
            return None
        return await self.to_incoming(update)

    async def _mark_ignored(self, event_id: int) -> None:
        async with self.runtime.db.transaction() as session:
            event = await session.get(InboundEvent, event_id)
            if event is not None:
                event.status, event.payload, event.processed_at = "processed", {}, utcnow()
                session.add(event)

    async def to_incoming(self, update: dict[str, Any]) -> Incoming | None:
        """The engine's view of an update; None for what we do not handle (groups, edits…)."""
        platform_id = str(update["update_id"])
        query = update.get("callback_query")
        if isinstance(query, dict):
            with contextlib.suppress(TelegramAPIError):
                await self.bot.answer_callback_query(str(query["id"]))  # stop the spinner
            tapped = query.get("message") or {}
            chat = tapped.get("chat") or {}
            if chat.get("type", "private") != "private":
                return None
            if tapped.get("message_id"):
                # The answer comes as a new message; the old buttons go, so the chat
                # history stays readable and nobody taps yesterday's menu by mistake.
                with contextlib.suppress(TelegramAPIError), await self.window.turn():
                    await self.bot.edit_message_reply_markup(
                        chat_id=int(chat["id"]), message_id=int(tapped["message_id"])
                    )
            sender = query.get("from") or {}
            origin = tapped.get("message_id")
            return Incoming(
                channel=Channel.TELEGRAM,
                sender_id=str(sender.get("id")),
                choice_id=str(query.get("data") or "")[:CALLBACK_LIMIT] or None,
                platform_id=platform_id,
                sender_name=sender.get("first_name"),
                origin_message_id=str(origin) if origin else None,
            )
        message = update.get("message")
        if not isinstance(message, dict) or (message.get("chat") or {}).get("type") != "private":
            return None
        sender = message.get("from") or {}
        base: dict[str, Any] = {
            "channel": Channel.TELEGRAM,
            "sender_id": str(sender.get("id")),
            "platform_id": platform_id,
            "sender_name": sender.get("first_name"),
        }
        if isinstance(message.get("text"), str):
            return Incoming(text=_command_word(message["text"]), **base)
        if isinstance(message.get("contact"), dict):
            contact = message["contact"]
            return Incoming(contact=Contact(str(contact.get("phone_number", ""))), **base)
        if isinstance(message.get("location"), dict):
            where = message["location"]
            return Incoming(
                location=Location(float(where["latitude"]), float(where["longitude"])), **base
            )
        media = await self._media(message)
        if media is not None:
            return Incoming(media=media, text=message.get("caption"), **base)
        return Incoming(unsupported=True, **base)

    async def _media(self, message: dict[str, Any]) -> Media | None:
        for kind, field_name, default_mime in (
            ("photo", "photo", "image/jpeg"),
            ("document", "document", "application/octet-stream"),
            ("voice", "voice", "audio/ogg"),
            ("audio", "audio", "audio/mpeg"),
            ("video", "video", "video/mp4"),
        ):
            item = message.get(field_name)
            if isinstance(item, list):  # photos come in several sizes: take the largest
                item = item[-1] if item else None
            if not isinstance(item, dict):
                continue
            size = int(item.get("file_size") or 0)
            mime = str(item.get("mime_type") or default_mime)
            if size > DOWNLOAD_LIMIT:
                return Media(kind=kind, ref="too-big", mime_type=mime, size=size)
            content = await self._download(str(item["file_id"]))
            if content is None:
                return Media(kind=kind, ref="missing", mime_type=mime, size=size)
            sha = self.media.store(content)
            return Media(kind, sha, mime, len(content), item.get("file_name"))
        return None

    async def _download(self, file_id: str) -> bytes | None:
        try:
            info = await self.bot.get_file(file_id)
            if info.file_path is None:
                return None
            buffer = io.BytesIO()
            await self.bot.download_file(info.file_path, buffer)
            return buffer.getvalue()
        except (TelegramAPIError, OSError) as error:
            log.warning("telegram file download failed: %s", type(error).__name__)
            return None


def _command_word(text: str) -> str:
    """'/start ref123' → 'menu', '/bahasa@bansos_bot' → 'bahasa'; other text as typed."""
    if not text.startswith("/"):
        return text
    command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:] else ""
    return COMMAND_WORDS.get(command, text)


def telegram_router(runtime: Runtime, inbox: TelegramInbox, wake: asyncio.Event) -> APIRouter:
    router = APIRouter(tags=["telegram"])
    expected = runtime.settings.telegram_webhook_token

    @router.post("/webhooks/telegram", include_in_schema=False)
    async def webhook(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = await body_within(request, MAX_BODY)
        if body is None:
            return JSONResponse({"error": "too large"}, status_code=413)
        try:
            update = json.loads(body)
            if not isinstance(update, dict):
                raise ValueError("not an object")
            await inbox.store(update)
        except (ValueError, UnicodeDecodeError, RecursionError):
            log.warning("telegram webhook: unusable body ignored")
            return JSONResponse({"ok": True})  # answered, so Telegram does not retry it forever
        except (DBAPIError, OSError) as error:
            raise StorageUnavailable(type(error).__name__) from error
        wake.set()
        return JSONResponse({"ok": True})

    return router


async def poll_forever(bot: Bot, inbox: TelegramInbox, wake: asyncio.Event) -> None:
    """Long polling: the offset moves past an update only once it is stored."""
    offset: int | None = None
    await bot.delete_webhook(drop_pending_updates=False)
    while True:
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=25, allowed_updates=ALLOWED_UPDATES
            )
            for update in updates:
                await inbox.store(update.model_dump(mode="json", exclude_none=True, by_alias=True))
                offset = update.update_id + 1
            if updates:
                wake.set()
        except (TelegramNetworkError, TelegramServerError, DBAPIError, OSError) as error:
            log.warning("telegram polling paused: %s", type(error).__name__)
            await asyncio.sleep(5)


# -- outbound --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What sending one row came to. `parts_sent` counts the row's messages Telegram took
    (a long text goes as several), so a retry goes on from the next one; `message_id` is
    the last of them, the chat's newest message."""

    status: str  # sent | pending | failed | skipped
    reason: str = ""
    retry_at: datetime | None = None
    parts_sent: int = 0
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Shown:
    """The newest message a chat got from the bot: whether it showed the share-contact
    keyboard, and its Telegram message id."""

    ask_contact: bool = False
    message_id: str | None = None


# A claimed row and what sending it came to.
Done = tuple[Outbox, SendOutcome]
BLOCKED = SendOutcome("failed", "blocked")


class TelegramSender:
    """Delivers pending outbox rows of the Telegram channel, in order per chat."""

    def __init__(self, runtime: Runtime, bot: Bot, reclaim_after: timedelta | None = None) -> None:
        self.runtime = runtime
        self.bot = bot
        settings = runtime.settings
        rate = settings.telegram_messages_per_second
        # The bot's limit: everything this process sends with the bot counts in it, the
        # officer desk's posts too (see OfficerDesk).
        self.window = SlidingWindow.per_second(rate)
        self._chats: dict[str, TokenBucket] = {}
        self._paused_until = 0.0
        # Rows this sender claims carry its id; another's "sending" rows were interrupted.
        self.instance = secrets.token_hex(8)
        self.reclaim_after = reclaim_after or timedelta(seconds=settings.telegram_reclaim_seconds)
        self.batch = max(20, min(500, int(rate / 2)))  # about half a second of sending
        # aiogram parses every answer as `Response[<type>]`, a pydantic generic that pydantic
        # caches only while something holds it: hold the ones a sender meets, or each send
        # rebuilds the model (about half a millisecond, a third of a broadcast's CPU).
        self._answer_models = (ApiAnswer[Message], ApiAnswer[bool])

    def _chat_bucket(self, chat_id: str) -> TokenBucket:
        settings = self.runtime.settings
        if chat_id not in self._chats:
            per_second = (
                1 / settings.telegram_chat_seconds if settings.telegram_chat_seconds else 1000.0
            )
            burst = float(settings.telegram_chat_burst)
            self._chats[chat_id] = TokenBucket(burst, per_second, burst, time.monotonic())
        return self._chats[chat_id]

    async def send_pending(self, limit: int | None = None) -> int:
        """One pass: claim due rows, send them, record each outcome as it comes. Returns
        the rows sent."""
        if time.monotonic() < self._paused_until:
            return 0
        claimed = await self._claim(limit or self.batch)
        by_chat: dict[str, list[Outbox]] = {}
        for row, chat_id in claimed:
            by_chat.setdefault(chat_id, []).append(row)
        sent = 0

        async def run_chat(chat: tuple[str, list[Outbox]]) -> None:
            nonlocal sent
            chat_id, rows = chat
            held = False
            # This pass's own sends are not recorded yet when the chat's next row goes.
            shown: Shown | None = None
            for row in rows:
                if held or time.monotonic() < self._paused_until:
                    buffer.add((row, SendOutcome("pending", row.reason, row.next_attempt_at)))
                    continue
                outcome = await self._send(row, chat_id, shown)
                buffer.add((row, outcome))
                if outcome.status == "sent":
                    sent += 1
                    shown = Shown(row.ask_contact, outcome.message_id)
                elif outcome == BLOCKED:
                    held = True  # the rest of this chat's rows: unreachable too
                    for later in rows[rows.index(row) + 1 :]:
                        buffer.add((later, SendOutcome("skipped", "unreachable")))
                    break
                elif outcome.status == "pending":
                    held = True  # keep this chat's order: its later rows wait too

        async with ResultBuffer(self._record) as buffer:
            await at_most(PARALLEL_CHATS, by_chat.items(), run_chat)
        return sent

    async def _claim(self, limit: int) -> list[tuple[Outbox, str]]:
        now = utcnow()
        async with self.runtime.db.transaction() as session:
            await outbox_repo.reclaim_interrupted(
                session, Channel.TELEGRAM, self.instance, now, self.reclaim_after, STALE_CLAIM
            )
            claimed = await outbox_repo.claim_due(
                session, Channel.TELEGRAM, now, limit, self.instance
            )
            return [(row, identity.external_id) for row, identity in claimed]

    async def _send(self, row: Outbox, chat_id: str, shown: Shown | None) -> SendOutcome:
        """Send one row; `shown` is what this pass last sent to the chat (None: look it up)."""
        chunks = split_text(html.escape(row.text))
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
        markup = self._markup(row)
        # What the chat was shown last matters to a reply only (is there a contact keyboard
        # to take away, is the tapped message still the newest): a broadcast row, one of
        # thousands, is not worth a database read.
        needs_last = row.broadcast_id is None and (
            markup is None or row.replaces_message_id is not None
        )
        if shown is None:
            shown = await self._last_shown(row) if needs_last else Shown()
        # A broadcast never follows a share-contact question in its own conversation.
        if markup is None and row.broadcast_id is None and shown.ask_contact:
            markup = ReplyKeyboardRemove(remove_keyboard=True)  # the phone was asked before
        parts_sent, message_id = row.parts_sent, None
        try:
            if parts_sent == 0 and await self._replace(row, chat_id, chunks, markup, shown):
                return SendOutcome("sent", parts_sent=1, message_id=row.replaces_message_id)
            for index, chunk in enumerate(chunks):
                if index < row.parts_sent:
                    continue  # delivered before a retry
                last = index == len(chunks) - 1
                with await self._turn(chat_id):
                    message = await self.bot.send_message(
                        chat_id=int(chat_id), text=chunk, parse_mode="HTML",
                        reply_markup=markup if last else None,
                    )  # fmt: skip
                parts_sent, message_id = index + 1, str(message.message_id)
        except TelegramRetryAfter as error:
            self._paused_until = time.monotonic() + error.retry_after
            retry_at = utcnow() + timedelta(seconds=error.retry_after)
            return SendOutcome("pending", "429", retry_at, parts_sent)
        except TelegramForbiddenError:
            return BLOCKED
        except (TelegramServerError, TelegramNetworkError) as error:
            if row.attempts + 1 >= MAX_ATTEMPTS:
                return SendOutcome("failed", type(error).__name__, None, parts_sent)
            delay = min(timedelta(seconds=2 ** (row.attempts + 1)), BACKOFF_CAP)
            return SendOutcome("pending", type(error).__name__, utcnow() + delay, parts_sent)
        except TelegramBadRequest as error:
            log.error("telegram refused outbox row %s: %s", row.id, error.message)
            return SendOutcome("failed", error.message[:300], None, parts_sent)
        return SendOutcome("sent", parts_sent=parts_sent, message_id=message_id)

    async def _last_shown(self, row: Outbox) -> Shown:
        """The newest message this chat got before `row`: did it show the share-contact
        keyboard, and which Telegram message is it."""
        async with self.runtime.db.session() as session:
            statement = (
                select(Outbox.ask_contact, Outbox.platform_message_id)
                .where(
                    Outbox.identity_id == row.identity_id,
                    col(Outbox.status).in_(("sent", "delivered", "read")),
                    col(Outbox.id) < (row.id or 0),
                )
                .order_by(col(Outbox.id).desc())
                .limit(1)
            )
            found = (await session.exec(statement)).first()
        return Shown() if found is None else Shown(bool(found[0]), found[1])

    async def _replace(
        self,
        row: Outbox,
        chat_id: str,
        chunks: list[str],
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None,
        shown: Shown,
    ) -> bool:
        """Edit the tapped menu into this one when it fits in one message and the tapped
        message is still the chat's newest (an older one edited would change a message
        far up the chat, with nothing new at the bottom); False to send."""
        if row.replaces_message_id is None or len(chunks) != 1:
            return False
        if row.replaces_message_id != shown.message_id:
            return False
        if not (markup is None or isinstance(markup, InlineKeyboardMarkup)):
            return False
        try:
            with await self._turn(chat_id):
                await self.bot.edit_message_text(
                    text=chunks[0],
                    chat_id=int(chat_id),
                    message_id=int(row.replaces_message_id),
                    parse_mode="HTML",
                    reply_markup=markup,
                )
        except TelegramBadRequest:
            return False  # too old to edit, or deleted: send a new message instead
        return True

    async def _turn(self, chat_id: str) -> InFlight:
        """Wait until the chat's and the bot's limits allow one more request. Make the
        request inside `with` the answer, so that the bot's window counts it until its
        answer came."""
        bucket = self._chat_bucket(chat_id)
        while True:
            now = time.monotonic()
            pause = max(self._paused_until - now, bucket.wait_time(now), self.window.wait_time(now))
            if pause <= 0:
                break
            await asyncio.sleep(pause)
        bucket.take()
        return self.window.sending()

    def _markup(self, row: Outbox) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
        catalogs = self.runtime.catalogs
        if row.ask_contact:
            # One keyboard per message: the contact button, then the choices as keys that
            # send their label, which the engine reads as the choice ("Kembali ke menu").
            label = catalogs.t(row.locale, "telegram.share_contact")
            keys = [[KeyboardButton(text=label, request_contact=True)]]
            keys += [
                [KeyboardButton(text=catalogs.t(row.locale, str(choice[1]), dict(choice[2])))]
                for choice in row.choices
            ]
            return ReplyKeyboardMarkup(keyboard=keys, resize_keyboard=True, one_time_keyboard=True)
        buttons = [
            InlineKeyboardButton(
                text=catalogs.t(row.locale, str(choice[1]), dict(choice[2])),
                callback_data=str(choice[0]),
            )
            for choice in row.choices
            if len(str(choice[0]).encode()) <= CALLBACK_LIMIT
        ]
        if not buttons:
            return None
        return InlineKeyboardMarkup(inline_keyboard=keyboard_rows(buttons))

    async def _record(self, done: list[Done]) -> None:
        now = utcnow()
        sent = [
            outbox_repo.Accepted(row.id or 0, outcome.message_id, parts_sent=outcome.parts_sent)
            for row, outcome in done
            if outcome.status == "sent"
        ]
        others = [(row, outcome) for row, outcome in done if outcome.status != "sent"]
        unreachable: set[int] = set()
        async with self.runtime.db.transaction() as session:
            await outbox_repo.record_sent(session, sent, now)
            stored_rows = await outbox_repo.by_ids(session, [row.id or 0 for row, _ in others])
            for row, outcome in others:
                stored = stored_rows.get(row.id or 0)
                if stored is None or stored.status != "sending":
                    continue  # reclaimed or cancelled meanwhile
                stored.status, stored.reason = outcome.status, outcome.reason
                stored.next_attempt_at = outcome.retry_at
                stored.claimed_by = None
                stored.parts_sent = max(stored.parts_sent, outcome.parts_sent)
                if outcome.status == "failed" or outcome.reason not in ("", "429", "unreachable"):
                    stored.attempts += 1
                if outcome == BLOCKED:
                    unreachable.add(stored.identity_id)
                session.add(stored)
            await outbox_repo.mark_unreachable(session, unreachable, now)


def keyboard_rows(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    """Two short buttons to a row on a phone screen, long ones alone; at most 8 per row."""
    per_row = 2 if all(len(b.text) <= SHORT_LABEL for b in buttons) else 1
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


async def set_commands(bot: Bot, runtime: Runtime) -> None:
    """The command menu in Indonesian and English."""
    for locale in runtime.catalogs.locales:
        commands = [
            BotCommand(
                command=name, description=runtime.catalogs.t(locale, f"telegram.command.{name}")
            )
            for name in ("menu", "bantuan", "bahasa", "batal")
        ]
        language = None if locale == runtime.settings.default_locale else locale
        await bot.set_my_commands(commands, language_code=language)


async def work_forever(
    channel: TelegramChannel, sender: TelegramSender, wake: asyncio.Event, interval: float = 1.0
) -> None:
    """Process stored updates, send the outbox and post new reports to the officers' group,
    woken early by new updates. With several instances, only the one holding the bot's
    advisory lock works: updates stay in order and one rate limit holds for the bot."""
    since = utcnow() - timedelta(days=1)  # a first start does not flood the group with history
    token = channel.runtime.settings.telegram_bot_token
    bot_id = token.get_secret_value().split(":", 1)[0] if token else "telegram"
    leadership = Leadership(channel.runtime.db, f"telegram-worker:{bot_id}")
    try:
        while True:
            busy = False
            try:
                if not await leadership.lead():
                    await asyncio.sleep(interval * 5)
                    continue
                # Each part in its own guard: replies and broadcasts still go out while
                # an inbound message fails, and the other way round.
                busy = await guarded("telegram", "inbound", channel.process_pending)
                busy = await guarded("telegram", "sending", sender.send_pending) or busy
                desk = channel.desk
                if desk is not None:
                    posts = partial(desk.post_new_reports, since)
                    await guarded("telegram", "officer posts", posts)
            except (DBAPIError, OSError, StorageUnavailable) as error:
                log.error("telegram worker paused: %s", type(error).__name__)
            except Exception:
                log.exception("telegram worker pass failed")
            if busy:
                continue  # a broadcast under way: straight on to the next batch
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
    finally:
        await leadership.release()
