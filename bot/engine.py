"""The conversation engine: one step per incoming message, in one transaction.

Per step it (1) records the inbound event once, (2) loads and row-locks the conversation,
(3) runs one step of the active dialog, (4) persists the new state and logs both
directions. State lives only in the database, so any app instance can take the next
message; the row lock (PostgreSQL) or the single writer (SQLite) keeps one resident's
messages strictly one after the other.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dialogs.base import Dialog, DialogContext, Outcome
from bot.dialogs.registry import DialogRegistry, default_registry
from bot.intents import Intent
from bot.messages import UNNUMBERED_CHOICES, Choice, Incoming, Reply, StepResult
from bot.runtime import Runtime
from bot.services.outbox import OutboxQueue
from bot.services.residents import ResidentService
from bot.text import clean, fold, redact_id_numbers, storable, typed_number
from storage.models import (
    ChannelIdentity,
    Conversation,
    InboundEvent,
    MessageLog,
    Outbox,
    Resident,
)
from storage.repositories import conversations as repo
from storage.types import utcnow

log = logging.getLogger(__name__)

MENU = "menu"
WELCOME = "welcome"
LANGUAGE = "language"
NEWS = "news"
# Conversations resting here are not "in the middle of something" when they go idle.
RESTING_DIALOGS = frozenset({MENU, WELCOME})
MAX_HOPS = 4
ATTEMPTS = 4
LABEL_MATCH_SCORE = 90.0
NUMBERED, NOT_NUMBERED = "n", "-"  # whether a typed number can pick an offered choice
# What the database says about a step's own values, as opposed to an outage.
_REFUSED_VALUES = (DataError, IntegrityError, NotSupportedError, ProgrammingError)


class StorageUnavailable(Exception):
    """The database cannot be reached: channels answer 5xx so the platform retries."""


@dataclass
class _Turn:
    """The mutable state of one step while it runs."""

    conversation: Conversation
    identity: ChannelIdentity
    resident: Resident
    locale: str
    replies: list[Reply] = field(default_factory=list)
    conceal_log: bool = False


class Engine:
    def __init__(self, runtime: Runtime, dialogs: DialogRegistry | None = None) -> None:
        self.runtime = runtime
        self.dialogs = dialogs or default_registry()

    async def handle(self, incoming: Incoming, *, queue_replies: bool = False) -> StepResult:
        """Run one step. Bad input never raises; a database outage raises StorageUnavailable.

        `queue_replies` is for push channels (Telegram, WhatsApp): the replies become outbox
        rows in the step's own transaction, so a reply is never lost nor sent twice.
        """
        started = time.perf_counter()
        metrics = self.runtime.metrics
        if incoming.text is not None:
            incoming = replace(incoming, text=storable(incoming.text))
        try:
            try:
                result = await self._run_with_retries(incoming, queue_replies)
            except (OSError, TimeoutError):
                raise
            except DBAPIError as error:
                if not isinstance(error, _REFUSED_VALUES):
                    raise
                # The database refused what this step wrote (a number out of range, a
                # constraint): this message's problem, not an outage, and retrying it on
                # every worker pass would only repeat the apology.
                log.exception("engine step on %s stored a bad value", incoming.channel)
                metrics.step_errors.labels(incoming.channel).inc()
                result = await self._apologise(incoming, queue_replies)
            except Exception:
                log.exception(
                    "engine step failed on %s; answering with an apology", incoming.channel
                )
                metrics.step_errors.labels(incoming.channel).inc()
                result = await self._apologise(incoming, queue_replies)
        except (DBAPIError, OSError, TimeoutError) as error:
            metrics.step_errors.labels(incoming.channel).inc()
            raise StorageUnavailable(type(error).__name__) from error
        metrics.step_seconds.labels(incoming.channel).observe(time.perf_counter() - started)
        if result.duplicate:
            metrics.duplicates.labels(incoming.channel).inc()
        else:
            metrics.messages.labels(incoming.channel, "in").inc()
            metrics.messages.labels(incoming.channel, "out").inc(len(result.replies))
        return result

    async def _run_with_retries(self, incoming: Incoming, queue_replies: bool) -> StepResult:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.runtime.db.transaction() as session:
                    return await self._step(session, incoming, queue_replies)
            except IntegrityError:
                # Another instance created the same identity or event first: look again.
                if attempt == ATTEMPTS:
                    raise
            except DBAPIError as error:
                if attempt == ATTEMPTS or not _is_transient(error):
                    raise
        raise AssertionError("unreachable")

    async def _step(
        self, session: AsyncSession, incoming: Incoming, queue_replies: bool
    ) -> StepResult:
        now = utcnow()
        event = await self._record_event(session, incoming)
        if event is not None and event.status == "processed":
            return StepResult(self.runtime.settings.default_locale, (), duplicate=True)
        identity = await self._identity(session, incoming)
        conversation = await repo.lock_conversation(session, identity.id or 0)
        # Read the resident only once the lock is held: a step that just committed
        # (consent, language) must be seen by the next one.
        resident = await session.get(Resident, identity.resident_id, populate_existing=True)
        assert resident is not None
        catalogs = self.runtime.catalogs
        locale = catalogs.normalize_locale(resident.locale)
        turn: _Turn
        if conversation is not None and conversation.taken_over_by is not None:
            # An officer is answering by hand: the message is recorded, the bot is silent.
            turn = _Turn(conversation, identity, resident, locale)
        elif conversation is None:
            conversation = Conversation(
                identity_id=identity.id or 0, dialog=WELCOME, step="", locale=locale
            )
            turn = _Turn(conversation, identity, resident, locale)
            await self._start(session, turn, incoming, WELCOME, {}, now)
        else:
            turn = _Turn(conversation, identity, resident, locale)
            await self._continue(session, turn, incoming, now)

        conversation.locale = turn.locale
        conversation.last_activity_at = now
        conversation.step_count += 1
        conversation.offered_choices = _offered(turn.replies)
        session.add(conversation)
        identity.last_inbound_at = now
        session.add(identity)
        queued = (
            await self._queue(session, identity, turn.locale, turn.replies, incoming)
            if queue_replies
            else []
        )
        self._log(
            session, identity, incoming, turn.locale, turn.replies, event, turn.conceal_log, queued
        )
        if event is not None:
            if turn.conceal_log or "sealed" in event.payload:
                # Concealed: its choice ids and file hashes would link the report. Sealed:
                # the raw platform update is only needed until it has been processed.
                event.payload = {}
            event.status = "processed"
            event.processed_at = now
            event.attempts += 1
            session.add(event)
        return StepResult(turn.locale, tuple(turn.replies))

    async def _record_event(self, session: AsyncSession, incoming: Incoming) -> InboundEvent | None:
        if incoming.platform_id is None:
            return None
        event = await repo.find_inbound_event(session, incoming.channel, incoming.platform_id)
        if event is None:
            event = InboundEvent(
                channel=incoming.channel,
                platform_id=incoming.platform_id,
                payload=incoming.payload(),
            )
            session.add(event)
            await session.flush()
        return event

    async def _identity(self, session: AsyncSession, incoming: Incoming) -> ChannelIdentity:
        identity = await repo.find_identity(session, incoming.channel, incoming.sender_id)
        if identity is None and incoming.sender_phone:
            # Known by the phone number before the platform gave the sender another id.
            identity = await repo.find_identity(session, incoming.channel, incoming.sender_phone)
        if identity is None:
            identity = await repo.create_identity(
                session,
                incoming.channel,
                incoming.sender_id,
                incoming.sender_name,
                incoming.sender_phone,
            )
        elif incoming.sender_phone and identity.phone != incoming.sender_phone:
            identity.phone = incoming.sender_phone  # the platform says the number changed
        return identity

    async def _continue(
        self, session: AsyncSession, turn: _Turn, incoming: Incoming, now: datetime
    ) -> None:
        conversation = turn.conversation
        dialog = self.dialogs.get(conversation.dialog)
        if dialog is None or not _valid_step(dialog, conversation.step):
            turn.replies.append(Reply("common.restarted"))
            return await self._start(session, turn, incoming, MENU, {}, now)
        idle = timedelta(minutes=self.runtime.settings.conversation_idle_minutes)
        expired = (
            conversation.dialog not in RESTING_DIALOGS
            and now - conversation.last_activity_at > idle
        )
        if expired:
            turn.replies.append(Reply("common.expired"))
            conversation.offered_choices = []
            conversation.dialog, conversation.data = MENU, {}
            dialog = self.dialogs.get(MENU)
            assert dialog is not None
            conversation.step = next(iter(dialog.Step)).value

        offered, numbered = _choices_from(conversation.offered_choices)
        text = clean(incoming.text) if incoming.text is not None else ""
        if expired and incoming.kind == "text" and typed_number(text) is not None:
            # A number answered the closed question, not the menu: show the menu first.
            return await self._start(session, turn, incoming, MENU, {}, now)
        if incoming.kind == "text":
            if not text:
                key = "common.unsupported" if incoming.unsupported else "common.empty"
                turn.replies.append(Reply(key, choices=offered or _menu_only()))
                return None
            if len(text) > self.runtime.settings.max_message_chars:
                params = {"max": self.runtime.settings.max_message_chars, "length": len(text)}
                turn.replies.append(Reply("common.too_long", params, choices=offered))
                return None
            command = self.runtime.intents.command(text)
            if command is not None:
                return await self._command(session, turn, incoming, command, offered, now)
            chosen = self._choice_from_text(turn.locale, text, offered, numbered)
            if chosen is not None:
                incoming = incoming.as_choice(chosen)

        if incoming.choice_id is not None:
            target = self._route_choice(conversation, incoming.choice_id, offered)
            if target == "stale":
                if conversation.dialog in RESTING_DIALOGS:
                    turn.replies.append(Reply("common.stale_choice"))
                    return await self._start(session, turn, incoming, MENU, {}, now)
                # Mid-journey: keep what the resident has entered so far and ask again.
                turn.replies.append(Reply("common.stale_choice_here", choices=_with_menu(offered)))
                return None
            if target is not None:
                if target == MENU and self._holds_draft(conversation):
                    turn.replies.append(Reply("common.draft_dropped"))
                return await self._start(session, turn, incoming, target, {}, now)

        if dialog.needs_consent and not ResidentService.has_consented(turn.resident):
            return await self._start(session, turn, incoming, WELCOME, {}, now)
        context = self._context(
            session, turn, incoming, text, copy.deepcopy(conversation.data), now
        )
        outcome = await dialog.handle(context, dialog.Step(conversation.step))
        await self._apply(session, turn, incoming, dialog, context, outcome, now)
        return None

    async def _command(
        self,
        session: AsyncSession,
        turn: _Turn,
        incoming: Incoming,
        command: Intent,
        offered: tuple[Choice, ...],
        now: datetime,
    ) -> None:
        conversation = turn.conversation
        if command is Intent.HELP:
            turn.replies.append(Reply("help.text", choices=offered or _menu_only()))
            return None
        if command is Intent.LANGUAGE:
            return await self._start(session, turn, incoming, LANGUAGE, {}, now)
        if command in (Intent.NEWS_STOP, Intent.NEWS_START):
            action = "stop" if command is Intent.NEWS_STOP else "start"
            if self._holds_draft(conversation):
                turn.replies.append(Reply("common.draft_dropped"))
            return await self._start(session, turn, incoming, NEWS, {"command": action}, now)
        if command is Intent.CANCEL and conversation.dialog not in RESTING_DIALOGS:
            turn.replies.append(Reply("common.cancelled"))
        elif self._holds_draft(conversation):
            turn.replies.append(Reply("common.draft_dropped"))
        return await self._start(session, turn, incoming, MENU, {}, now)

    def _holds_draft(self, conversation: Conversation) -> bool:
        """Whether leaving now drops something the resident was filling in."""
        current = self.dialogs.get(conversation.dialog)
        return current is not None and current.holds_draft and bool(conversation.data)

    def _choice_from_text(
        self, locale: str, text: str, offered: tuple[Choice, ...], numbered: tuple[Choice, ...]
    ) -> str | None:
        """A typed number picks from the last list shown; a typed label ('setuju') from any
        offered choice."""
        if not offered:
            return None
        number = typed_number(text)
        if number is not None:
            return numbered[number - 1].id if 1 <= number <= len(numbered) else None
        folded = fold(text)
        if not folded:
            return None
        catalogs = self.runtime.catalogs
        for choice in offered:
            label = fold(catalogs.t(locale, choice.key, choice.params))
            if label and fuzz.ratio(folded, label) >= LABEL_MATCH_SCORE:
                return choice.id
        return None

    def _route_choice(
        self, conversation: Conversation, choice_id: str, offered: tuple[Choice, ...]
    ) -> str | None:
        """None: the active dialog handles it. A name: start that dialog. 'stale': expired."""
        if choice_id == "nav:menu":
            return MENU
        if choice_id == "nav:language":
            return LANGUAGE
        # A main-menu button means what it says wherever it is offered, even from an old
        # message ("Cek laporan saya" under a filed report opens the tracking journey).
        menu_target = self.dialogs.from_menu_choice(choice_id)
        if menu_target is not None and menu_target.name != conversation.dialog:
            return menu_target.name
        # Likewise a button that belongs to another journey ("Kabari jadwal" under a
        # status answer) opens that journey.
        global_target = self.dialogs.for_global_choice(choice_id)
        if global_target is not None and global_target.name != conversation.dialog:
            return global_target.name
        if any(choice.id == choice_id for choice in offered):
            return None
        if menu_target is not None:
            return menu_target.name
        if global_target is not None:
            return global_target.name
        return "stale"

    async def _start(
        self,
        session: AsyncSession,
        turn: _Turn,
        incoming: Incoming,
        name: str,
        data: dict[str, Any],
        now: datetime,
    ) -> None:
        dialog = self.dialogs.get(name)
        assert dialog is not None, name
        if dialog.needs_consent and not ResidentService.has_consented(turn.resident):
            dialog = self.dialogs.get(WELCOME)
            assert dialog is not None
            data = {}
        context = self._context(session, turn, incoming, "", data, now)
        outcome = await dialog.start(context)
        await self._apply(session, turn, incoming, dialog, context, outcome, now)

    async def _apply(
        self,
        session: AsyncSession,
        turn: _Turn,
        incoming: Incoming,
        dialog: Dialog,
        context: DialogContext,
        outcome: Outcome,
        now: datetime,
        hops: int = 0,
    ) -> None:
        turn.locale = context.locale
        turn.replies.extend(outcome.replies)
        turn.conceal_log = turn.conceal_log or context.conceal_log
        conversation = turn.conversation
        if outcome.goto is None and outcome.step is None and dialog.name == MENU:
            raise RuntimeError("the menu dialog may not finish")
        if outcome.goto is not None or outcome.step is None:
            if hops >= MAX_HOPS:
                raise RuntimeError(f"dialog {dialog.name} loops through goto")
            target = self.dialogs.get(outcome.goto or MENU)
            if target is None:
                raise RuntimeError(f"dialog {dialog.name} went to unknown {outcome.goto}")
            if target.needs_consent and not ResidentService.has_consented(turn.resident):
                target = self.dialogs.get(WELCOME)
                assert target is not None
            data = dict(outcome.goto_data) if target.name == outcome.goto else {}
            next_context = self._context(session, turn, incoming, "", data, now)
            next_outcome = await target.start(next_context)
            await self._apply(
                session, turn, incoming, target, next_context, next_outcome, now, hops + 1
            )
            return
        conversation.dialog = dialog.name
        conversation.step = outcome.step.value
        conversation.data = context.data

    def _context(
        self,
        session: AsyncSession,
        turn: _Turn,
        incoming: Incoming,
        text: str,
        data: dict[str, Any],
        now: datetime,
    ) -> DialogContext:
        return DialogContext(
            incoming=incoming,
            text=text,
            locale=turn.locale,
            data=data,
            resident=turn.resident,
            identity_id=turn.identity.id or 0,
            session=session,
            runtime=self.runtime,
            dialogs=self.dialogs,
            now=now,
        )

    def _log(
        self,
        session: AsyncSession,
        identity: ChannelIdentity,
        incoming: Incoming,
        locale: str,
        replies: Sequence[Reply],
        event: InboundEvent | None,
        conceal: bool = False,
        queued: Sequence[Outbox] = (),
    ) -> None:
        assert identity.id is not None
        if conceal:
            # An anonymous report: even a placeholder row would say who filed one, and when.
            return
        text = redact_id_numbers(incoming.text) if incoming.text else incoming.text
        session.add(
            MessageLog(
                identity_id=identity.id,
                channel=incoming.channel,
                direction="in",
                kind=incoming.kind,
                text=text,
                payload=incoming.payload(),
                inbound_event_id=event.id if event is not None else None,
                created_at=incoming.received_at,
            )
        )
        catalogs = self.runtime.catalogs
        outbox_ids: list[int | None] = [row.id for row in queued] or [None] * len(replies)
        for reply, outbox_id in zip(replies, outbox_ids, strict=True):
            labels = [
                {"id": c.id, "label": catalogs.t(locale, c.key, c.params)} for c in reply.choices
            ]
            session.add(
                MessageLog(
                    identity_id=identity.id,
                    channel=incoming.channel,
                    direction="out",
                    kind="reply",
                    text=redact_id_numbers(catalogs.t(locale, reply.key, reply.params)),
                    message_key=reply.key,
                    payload={"choices": labels} if labels else {},
                    outbox_id=outbox_id,
                )
            )

    async def _queue(
        self,
        session: AsyncSession,
        identity: ChannelIdentity,
        locale: str,
        replies: Sequence[Reply],
        incoming: Incoming | None = None,
    ) -> list[Outbox]:
        """The replies as outbox rows (flushed, so the message log can name them)."""
        outbox = OutboxQueue(session, self.runtime.catalogs)
        # A tap answered by one new set of choices is a menu changing step: the channel may
        # replace the tapped message instead of adding one.
        replaces = (
            incoming.origin_message_id
            if incoming is not None
            and len(replies) == 1
            and replies[0].choices
            and not replies[0].ask_contact
            else None
        )
        rows = [await outbox.queue_reply(identity, locale, reply, replaces) for reply in replies]
        if rows:
            await session.flush()
        return rows

    async def _apologise(self, incoming: Incoming, queue_replies: bool = False) -> StepResult:
        """After a failed step: log the message and apologise, leaving the state as it was.

        The inbound event is closed as failed, so a channel worker does not take the same
        message again (and apologise again) on every pass."""
        reply = Reply("common.error", choices=_menu_only())
        async with self.runtime.db.transaction() as session:
            await self._close_failed_event(session, incoming)
            identity = await self._identity(session, incoming)
            resident = await session.get(Resident, identity.resident_id)
            assert resident is not None
            locale = self.runtime.catalogs.normalize_locale(resident.locale)
            queued = await self._queue(session, identity, locale, [reply]) if queue_replies else []
            self._log(session, identity, incoming, locale, [reply], None, queued=queued)
        return StepResult(locale, (reply,))

    async def _close_failed_event(self, session: AsyncSession, incoming: Incoming) -> None:
        if incoming.platform_id is None:
            return
        event = await repo.find_inbound_event(session, incoming.channel, incoming.platform_id)
        if event is None:
            event = InboundEvent(
                channel=incoming.channel, platform_id=incoming.platform_id, payload={}
            )
        event.status = "failed"
        event.attempts += 1
        event.processed_at = utcnow()
        session.add(event)


def _valid_step(dialog: Dialog, step: str) -> bool:
    return step in {member.value for member in dialog.Step}


def _menu_only() -> tuple[Choice, ...]:
    return (Choice("nav:menu", "common.back_to_menu"),)


def _with_menu(choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
    if any(choice.id == "nav:menu" for choice in choices):
        return choices
    return (*choices, *_menu_only())


def _offered(replies: Sequence[Reply]) -> list[list[Any]]:
    """Every choice of the turn stays valid as a tap, but only the last message's choices
    are numbered: channels number each message's list from 1, and the resident types the
    number of the list they read last. Those come first, marked `NUMBERED`."""
    with_choices = [reply for reply in replies if reply.choices]
    if not with_choices:
        return []
    last = with_choices[-1]
    offered: list[list[Any]] = []
    seen: set[str] = set()
    for reply in (last, *with_choices[:-1]):
        for choice in reply.choices:
            if choice.id not in seen:
                seen.add(choice.id)
                numbered = reply is last and choice.id not in UNNUMBERED_CHOICES
                mark = NUMBERED if numbered else NOT_NUMBERED
                offered.append([choice.id, choice.key, dict(choice.params), mark])
    return offered


def _choices_from(stored: list[Any]) -> tuple[tuple[Choice, ...], tuple[Choice, ...]]:
    """The offered choices, and those a typed number picks from (all, for rows stored
    before numbering was marked)."""
    choices: list[Choice] = []
    numbered: list[Choice] = []
    marked = False
    for item in stored:
        if isinstance(item, list) and len(item) in (3, 4):
            choice = Choice(str(item[0]), str(item[1]), dict(item[2]))
            choices.append(choice)
            marked = marked or len(item) == 4
            if len(item) == 4 and item[3] == NUMBERED:
                numbered.append(choice)
    return tuple(choices), tuple(numbered) if marked else tuple(choices)


def _is_transient(error: DBAPIError) -> bool:
    """Serialization failures and deadlocks are worth a second try; nothing else is."""
    code = getattr(getattr(error, "orig", None), "sqlstate", None) or getattr(
        getattr(error, "orig", None), "pgcode", None
    )
    return code in {"40001", "40P01"} or "database is locked" in str(error)
