"""WhatsApp outbound: the outbox sender on pywa's async client (DESIGN.md rule 3).

Each pending row is rendered (`whatsapp_render`) and sent within the Cloud API's limits:
- throughput per phone number (`WHATSAPP_MESSAGES_PER_SECOND`, 80 by default);
- the pair rate to one person (a burst of `WHATSAPP_PAIR_BURST`, then one message per
  `WHATSAPP_PAIR_SECONDS`); a 131056 backs off that recipient only;
- a 130429 pauses the whole number on Meta's 4^X schedule (1, 4, 16, 64, 256 s).

Outside the 24-hour window (no message from the resident for 24 hours) a row goes out as
its purpose's approved template; a 131047 answer (re-engagement required) re-sends it so.
Other errors are retryable (backoff, at most 8 tries) or final (the row fails with its
reason; 131026, undeliverable, marks the identity unreachable).

Every send carries `biz_opaque_callback_data = "outbox:<id>"`, which status webhooks
return: a row interrupted by a crash after WhatsApp accepted it is reconciled from its
status instead of being sent again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from pywa_async.client import WhatsApp
from pywa_async.errors import WhatsAppError
from pywa_async.types.callback import Button, Section, SectionList, SectionRow
from pywa_async.types.templates import TemplateLanguage

from bot.handlers.outbox_flush import ResultBuffer
from bot.handlers.parallel import at_most
from bot.handlers.rate import InFlight, SlidingWindow, TokenBucket
from bot.handlers.whatsapp_render import (
    ButtonsOut,
    TextOut,
    WhatsAppOut,
    render_message,
    safe_params,
)
from bot.handlers.whatsapp_templates import template_for
from bot.messages import Channel
from bot.runtime import Runtime
from storage.models import ChannelIdentity, Outbox
from storage.repositories import outbox as outbox_repo
from storage.repositories.inbound import inbound_waiting
from storage.types import utcnow

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
THROUGHPUT_LIMIT_HIT = 130429
PAIR_LIMIT_HIT = 131056
RE_ENGAGEMENT = 131047
UNDELIVERABLE = 131026
# Meta's transient codes: unknown, service down, API rate, maintenance, generic.
RETRYABLE = frozenset({1, 2, 4, 17, 341, 80007, 131000, 131016, 131057, 133004, 135000})
MAX_ATTEMPTS = 8
BACKOFF_CAP = timedelta(minutes=5)
MAX_THROTTLE_EXPONENT = 4
INLINE_WAIT = 1.0  # seconds a send may wait for its turn before the row is put back
PARALLEL_CHATS = 32
# A "sending" row claimed by another instance: WhatsApp's status webhook (which carries the
# row's tracker) reconciles it if the send went through; after WHATSAPP_RECLAIM_SECONDS
# without one it was not sent. One of this instance's own, after STALE_CLAIM.
STALE_CLAIM = timedelta(minutes=10)
PAIR_BUCKETS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class SendOutcome:
    status: str  # sent | pending | failed
    reason: str = ""
    retry_at: datetime | None = None
    wamid: str | None = None
    sent_as: str = ""
    parts_sent: int = 0
    unreachable: bool = False
    counts_as_try: bool = True


class _Later(Exception):
    """The recipient's or the number's turn is further off than a send should wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


# A claimed row, its chat, and what sending it came to.
Done = tuple[Outbox, ChannelIdentity, SendOutcome]


def tracker_for(row_id: int) -> str:
    return f"outbox:{row_id}"


class WhatsAppSender:
    """Delivers pending WhatsApp outbox rows, in order per recipient."""

    def __init__(
        self, runtime: Runtime, client: WhatsApp, reclaim_after: timedelta | None = None
    ) -> None:
        self.runtime = runtime
        self.client = client
        settings = runtime.settings
        rate = settings.whatsapp_messages_per_second
        self._global = SlidingWindow.per_second(rate)
        self._pairs: dict[str, TokenBucket] = {}
        self._pair_held: dict[str, float] = {}
        self._pair_strikes: dict[str, int] = {}
        self._paused_until = 0.0
        self._throttle_strikes = 0
        # Rows this sender claims carry its id; another's "sending" rows were interrupted.
        self.instance = secrets.token_hex(8)
        self.reclaim_after = reclaim_after or timedelta(seconds=settings.whatsapp_reclaim_seconds)
        self.batch = max(20, min(500, int(rate / 2)))  # about half a second of sending

    # -- one pass --------------------------------------------------------------------------

    async def send_pending(self, limit: int | None = None) -> int:
        """Claim due rows, send them, record each outcome as it comes. Returns the rows
        sent."""
        if time.monotonic() < self._paused_until:
            return 0
        now = utcnow()
        async with self.runtime.db.transaction() as session:
            # A gone instance's rows are reclaimed only once every status webhook received
            # so far is applied: one of them may prove a row went out.
            if not await inbound_waiting(session, Channel.WHATSAPP):
                await outbox_repo.reclaim_interrupted(
                    session, Channel.WHATSAPP, self.instance, now, self.reclaim_after, STALE_CLAIM
                )
            claimed = await outbox_repo.claim_due(
                session, Channel.WHATSAPP, now, limit or self.batch, self.instance
            )
        by_chat: dict[int, list[tuple[Outbox, ChannelIdentity]]] = {}
        for row, identity in claimed:
            by_chat.setdefault(identity.id or 0, []).append((row, identity))
        sent = 0

        async def run_chat(items: list[tuple[Outbox, ChannelIdentity]]) -> None:
            nonlocal sent
            held: SendOutcome | None = None
            for row, identity in items:
                if held is not None and held.status == "skipped":
                    buffer.add((row, identity, held))
                    continue
                if held is not None or time.monotonic() < self._paused_until:
                    # Keep this person's order: later rows wait for the held one.
                    retry_at = held.retry_at if held is not None else self._resume_at()
                    later = SendOutcome("pending", row.reason, retry_at, counts_as_try=False)
                    buffer.add((row, identity, later))
                    continue
                outcome = await self._send(row, identity)
                buffer.add((row, identity, outcome))
                if outcome.status == "sent":
                    sent += 1
                elif outcome.status == "pending":
                    held = outcome
                elif outcome.unreachable:
                    held = SendOutcome("skipped", "unreachable")

        async with ResultBuffer(self._record) as buffer:
            await at_most(PARALLEL_CHATS, by_chat.values(), run_chat)
        self._prune()
        return sent

    def _resume_at(self) -> datetime:
        return utcnow() + timedelta(seconds=max(0.0, self._paused_until - time.monotonic()))

    # -- one row ---------------------------------------------------------------------------

    async def _send(self, row: Outbox, identity: ChannelIdentity) -> SendOutcome:
        assert row.id is not None
        last = identity.last_inbound_at
        in_window = last is not None and utcnow() - last < WINDOW
        if not in_window or row.reason == str(RE_ENGAGEMENT):
            return await self._attempt(row, identity, as_template=True)
        outcome = await self._attempt(row, identity, as_template=False)
        if outcome.reason.startswith(f"{RE_ENGAGEMENT} ") and outcome.parts_sent == 0:
            return await self._attempt(row, identity, as_template=True)
        return outcome

    async def _attempt(
        self, row: Outbox, identity: ChannelIdentity, *, as_template: bool
    ) -> SendOutcome:
        recipient = identity.external_id
        parts_sent = row.parts_sent
        wamid: str | None = None
        try:
            if as_template:
                wamid = await self._send_template(row, recipient)
                if wamid is None:
                    return SendOutcome("failed", "no template configured", sent_as="template")
                parts_sent = 1
            else:
                for index, message in enumerate(self.render(row)):
                    if index < row.parts_sent:
                        continue  # already delivered before a retry
                    with await self._turn(recipient):
                        wamid = await self._deliver(message, recipient, row.id or 0)
                    parts_sent = index + 1
        except _Later as later:
            retry_at = utcnow() + timedelta(seconds=later.seconds)
            return SendOutcome(
                "pending", row.reason, retry_at, parts_sent=parts_sent, counts_as_try=False
            )
        except WhatsAppError as error:
            return self._on_error(row, recipient, error, parts_sent)
        except (httpx.HTTPError, OSError) as error:
            return self._retry(row, type(error).__name__, parts_sent)
        self._throttle_strikes = 0
        self._pair_strikes.pop(recipient, None)
        return SendOutcome(
            "sent",
            wamid=wamid,
            sent_as="template" if as_template else "free",
            parts_sent=parts_sent,
        )

    def render(self, row: Outbox) -> list[WhatsAppOut]:
        catalogs = self.runtime.catalogs
        text = catalogs.t(row.locale, row.message_key, safe_params(row.params))
        choices = [
            (str(choice[0]), catalogs.t(row.locale, str(choice[1]), dict(choice[2])))
            for choice in row.choices
        ]
        return render_message(catalogs, row.locale, text, choices)

    async def _deliver(self, message: WhatsAppOut, recipient: str, row_id: int) -> str:
        tracker = tracker_for(row_id)
        if isinstance(message, TextOut):
            sent = await self.client.send_message(recipient, message.body, tracker=tracker)
        elif isinstance(message, ButtonsOut):
            buttons = [Button(title=title, callback_data=cid) for cid, title in message.buttons]
            sent = await self.client.send_message(
                recipient, message.body, buttons=buttons, tracker=tracker
            )
        else:
            rows = [
                SectionRow(title=r.title, callback_data=r.id, description=r.description or None)
                for r in message.rows
            ]
            section_list = SectionList(
                button_title=message.button, sections=[Section(title=message.section, rows=rows)]
            )
            sent = await self.client.send_message(
                recipient, message.body, buttons=section_list, tracker=tracker
            )
        return str(sent.id)

    async def _send_template(self, row: Outbox, recipient: str) -> str | None:
        choice_ids = [str(choice[0]) for choice in row.choices]
        call = template_for(
            self.runtime.settings, row.message_key, row.locale, row.text, choice_ids
        )
        if call is None:
            return None
        with await self._turn(recipient):
            sent = await self.client.send_template(
                recipient,
                name=call.name,
                language=TemplateLanguage(call.language),
                params=call.components,
                tracker=tracker_for(row.id or 0),
            )
        return str(sent.id)

    # -- limits ----------------------------------------------------------------------------

    def _pair(self, recipient: str) -> TokenBucket:
        bucket = self._pairs.get(recipient)
        if bucket is None:
            settings = self.runtime.settings
            seconds = settings.whatsapp_pair_seconds
            rate = 1 / seconds if seconds else 1000.0
            bucket = TokenBucket.per_second(rate, float(settings.whatsapp_pair_burst))
            self._pairs[recipient] = bucket
        return bucket

    async def _turn(self, recipient: str) -> InFlight:
        """Wait for a token of the number and of the pair, or raise _Later if far off. Make
        the request inside `with` the answer, so that the number's window counts it until
        its answer came."""
        bucket = self._pair(recipient)
        while True:
            now = time.monotonic()
            pause = max(
                self._paused_until - now,
                self._pair_held.get(recipient, 0.0) - now,
                bucket.wait_time(now),
                self._global.wait_time(now),
            )
            if pause <= 0:
                break
            if pause > INLINE_WAIT:
                raise _Later(pause)
            await asyncio.sleep(pause)
        bucket.take()
        return self._global.sending()

    def _prune(self) -> None:
        """Forget pair buckets that are full again (a broadcast touches many people)."""
        if len(self._pairs) <= PAIR_BUCKETS_KEPT:
            return
        now = time.monotonic()
        for recipient, bucket in list(self._pairs.items()):
            bucket.wait_time(now)  # refills it
            if bucket.tokens >= bucket.capacity:
                del self._pairs[recipient]
        for recipient in [r for r, until in self._pair_held.items() if until < now]:
            del self._pair_held[recipient]

    # -- errors ----------------------------------------------------------------------------

    def _on_error(
        self, row: Outbox, recipient: str, error: WhatsAppError, parts_sent: int
    ) -> SendOutcome:
        code = int(error.code)
        reason = f"{code} {error.message}"[:300]
        if code == THROUGHPUT_LIMIT_HIT:
            delay = 4.0 ** min(self._throttle_strikes, MAX_THROTTLE_EXPONENT)
            self._throttle_strikes += 1
            self._paused_until = max(self._paused_until, time.monotonic() + delay)
            log.warning("whatsapp throughput limit hit: pausing %.0f s", delay)
            return self._later(row, delay, parts_sent)
        if code == PAIR_LIMIT_HIT:
            strikes = self._pair_strikes.get(recipient, 0)
            self._pair_strikes[recipient] = strikes + 1
            delay = max(self.runtime.settings.whatsapp_pair_seconds, 1.0) * 2 ** min(strikes, 4)
            self._pair_held[recipient] = time.monotonic() + delay
            return self._later(row, delay, parts_sent)
        if code in RETRYABLE or (error.status_code or 0) >= 500:
            return self._retry(row, reason, parts_sent)
        if code != RE_ENGAGEMENT:
            log.error("whatsapp refused outbox row %s: %s", row.id, reason)
        return SendOutcome(
            "failed", reason, parts_sent=parts_sent, unreachable=code == UNDELIVERABLE
        )

    @staticmethod
    def _later(row: Outbox, delay: float, parts_sent: int) -> SendOutcome:
        retry_at = utcnow() + timedelta(seconds=delay)
        return SendOutcome(
            "pending", row.reason, retry_at, parts_sent=parts_sent, counts_as_try=False
        )

    @staticmethod
    def _retry(row: Outbox, reason: str, parts_sent: int) -> SendOutcome:
        if row.attempts + 1 >= MAX_ATTEMPTS:
            return SendOutcome("failed", reason, parts_sent=parts_sent)
        delay = min(timedelta(seconds=2 ** (row.attempts + 1)), BACKOFF_CAP)
        return SendOutcome("pending", reason, utcnow() + delay, parts_sent=parts_sent)

    # -- bookkeeping -----------------------------------------------------------------------

    async def _record(self, done: list[Done]) -> None:
        now = utcnow()
        sent = [
            outbox_repo.Accepted(row.id or 0, outcome.wamid, outcome.sent_as, outcome.parts_sent)
            for row, _, outcome in done
            if outcome.status == "sent"
        ]
        others = [item for item in done if item[2].status != "sent"]
        unreachable: set[int] = set()
        async with self.runtime.db.transaction() as session:
            await outbox_repo.record_sent(session, sent, now)
            stored_rows = await outbox_repo.by_ids(session, [row.id or 0 for row, _, _ in others])
            for row, identity, outcome in others:
                stored = stored_rows.get(row.id or 0)
                if stored is None or stored.status != "sending":
                    continue  # reconciled by a status webhook, reclaimed or cancelled
                stored.status, stored.reason = outcome.status, outcome.reason
                stored.next_attempt_at = outcome.retry_at
                stored.claimed_by = None
                stored.parts_sent = max(stored.parts_sent, outcome.parts_sent)
                if outcome.counts_as_try:
                    stored.attempts += 1
                if outcome.sent_as:
                    stored.sent_as = outcome.sent_as
                if outcome.unreachable:
                    unreachable.add(identity.id or 0)
                session.add(stored)
            await outbox_repo.mark_unreachable(session, unreachable, now)
