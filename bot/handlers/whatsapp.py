"""The WhatsApp channel on the official Cloud API (pywa's async client): a thin adapter
over the engine (DESIGN.md rules 1-3).

Inbound: `POST /webhooks/whatsapp` checks `X-Hub-Signature-256` (HMAC-SHA256 of the raw
body with the app secret, compared in constant time), then stores every message and every
status of every entry and change as its own sealed row, unique on the wamid (statuses on
wamid + status), and only then answers 200. Meta's retries and duplicates find the rows
already there. We receive the webhook ourselves rather than through pywa's route, which
reads only a batch's first message, remembers duplicates in memory and answers Meta only
after handling.

A worker turns stored messages into `Incoming` (in order per sender; senders side by
side), downloads media by id → URL → bytes within the evidence limits, and runs the engine
with `queue_replies`. Statuses move the outbox rows and their message-log rows along
sent → delivered → read, or to failed with Meta's error.

Residents are identified by the business-scoped user id Meta sends (`user_id`), with the
phone number (`wa_id`) kept when present; an identity made from a phone number before
BSUIDs existed keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pywa_async.client import WhatsApp
from pywa_async.errors import WhatsAppError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.engine import Engine, StorageUnavailable
from bot.handlers.bodies import body_within
from bot.handlers.parallel import at_most
from bot.handlers.whatsapp_sender import RE_ENGAGEMENT, UNDELIVERABLE, WhatsAppSender
from bot.handlers.worker_pass import guarded
from bot.messages import Channel, Contact, Incoming, Location, Media
from bot.runtime import Runtime
from bot.services.media import MB, EvidencePolicy, MediaStore
from storage.db import Leadership
from storage.models import InboundEvent, Outbox
from storage.repositories import outbox as outbox_repo
from storage.types import utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY = 3 * 1024 * 1024  # Meta batches up to 1,000 updates; a few megabytes at most
PARALLEL_SENDERS = 16
STATUS_PATIENCE = timedelta(minutes=10)  # a status may arrive before its send is recorded
DEFERRED_EVERY = 5.0  # seconds between looks at deferred statuses
IGNORED_TYPES = frozenset({"reaction"})
MEDIA_KINDS = {"image": "photo", "document": "document", "video": "video", "audio": "audio"}
STATUS_RANK = {"sending": 0, "sent": 1, "delivered": 2, "read": 3}


def make_client(runtime: Runtime) -> WhatsApp:
    """pywa's async client, pointed at `WHATSAPP_API_URL` (pywa itself always builds
    graph.facebook.com URLs, so the session's base URL is set after construction)."""
    settings = runtime.settings
    assert settings.whatsapp_access_token is not None
    session = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0))
    client = WhatsApp(
        phone_id=settings.whatsapp_phone_number_id,
        token=settings.whatsapp_access_token.get_secret_value(),
        session=session,
        api_version=settings.whatsapp_api_version,
    )
    session.base_url = f"{settings.whatsapp_api_url.rstrip('/')}/v{settings.whatsapp_api_version}"
    return client


async def close_client(client: WhatsApp) -> None:
    await client.api._session.aclose()


def signature_ok(app_secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


# -- inbound: storing ----------------------------------------------------------------------


def webhook_items(
    body: dict[str, Any], phone_number_id: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """Every message and status of a webhook as (platform id, item), in the order sent."""
    items: list[tuple[str, dict[str, Any]]] = []
    for entry in body.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value") or {}
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata") or {}
            if phone_number_id and str(metadata.get("phone_number_id")) != phone_number_id:
                log.warning("whatsapp webhook for another phone number ignored")
                continue
            contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
            for message in value.get("messages") or []:
                if isinstance(message, dict) and message.get("id"):
                    contact = _contact_for(message, contacts)
                    items.append((str(message["id"]), {"message": message, "contact": contact}))
            for status in value.get("statuses") or []:
                if isinstance(status, dict) and status.get("id") and status.get("status"):
                    key = f"status:{status['id']}:{status['status']}"
                    items.append((key, {"status": status}))
    return items


def _contact_for(message: dict[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    for contact in contacts:
        if (message.get("from_user_id") and contact.get("user_id") == message["from_user_id"]) or (
            message.get("from") and contact.get("wa_id") == message["from"]
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


class WhatsAppInbox:
    """Stores each message and status before Meta gets its 200."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def store(self, body: dict[str, Any]) -> int:
        """Store what is new; returns how many rows were new (duplicates are skipped)."""
        items = webhook_items(body, self.runtime.settings.whatsapp_phone_number_id)
        if not items:
            return 0
        try:
            return await self._store(items)
        except IntegrityError:
            # Another instance stored one of them at the same moment: one by one.
            return sum([await self._store_one(item) for item in items])

    async def _store(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        vault = self.runtime.vault
        async with self.runtime.db.transaction() as session:
            known = set(
                (
                    await session.exec(
                        select(InboundEvent.platform_id).where(
                            InboundEvent.channel == Channel.WHATSAPP,
                            col(InboundEvent.platform_id).in_([key for key, _ in items]),
                        )
                    )
                ).all()
            )
            new = 0
            for key, item in items:
                if key in known:
                    continue
                known.add(key)
                sealed = vault.encrypt(json.dumps(item))
                session.add(
                    InboundEvent(
                        channel=Channel.WHATSAPP, platform_id=key, payload={"sealed": sealed}
                    )
                )
                new += 1
            return new

    async def _store_one(self, item: tuple[str, dict[str, Any]]) -> int:
        try:
            return await self._store([item])
        except IntegrityError:
            return 0


def whatsapp_router(runtime: Runtime, inbox: WhatsAppInbox, wake: asyncio.Event) -> APIRouter:
    router = APIRouter(tags=["whatsapp"])
    settings = runtime.settings

    @router.get("/webhooks/whatsapp", include_in_schema=False)
    async def verify(request: Request) -> Response:
        """Meta's subscription handshake: echo the challenge for the right verify token."""
        query = request.query_params
        given = query.get("hub.verify_token", "")
        expected = settings.whatsapp_verify_token
        if (
            query.get("hub.mode") == "subscribe"
            and expected is not None
            and hmac.compare_digest(given.encode(), expected.get_secret_value().encode())
        ):
            return PlainTextResponse(query.get("hub.challenge", ""))
        return JSONResponse({"error": "forbidden"}, status_code=403)

    @router.post("/webhooks/whatsapp", include_in_schema=False)
    async def receive(request: Request) -> Response:
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            return JSONResponse({"error": "signature missing"}, status_code=401)
        body = await body_within(request, MAX_BODY)
        if body is None:
            return JSONResponse({"error": "too large"}, status_code=413)
        secret = settings.whatsapp_app_secret
        if secret is None or not signature_ok(secret.get_secret_value(), body, header):
            return JSONResponse({"error": "signature invalid"}, status_code=403)
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            stored = await inbox.store(payload)
        except (ValueError, UnicodeDecodeError, TypeError, AttributeError, RecursionError):
            log.warning("whatsapp webhook: signed but unusable body ignored")
            return JSONResponse({"ok": True})  # answered, so Meta does not retry it forever
        except (DBAPIError, OSError) as error:
            raise StorageUnavailable(type(error).__name__) from error
        if stored:
            wake.set()
        return JSONResponse({"ok": True})

    return router


# -- inbound: processing ---------------------------------------------------------------------


class WhatsAppChannel:
    """Turns stored messages into engine steps and statuses into delivery state."""

    def __init__(self, runtime: Runtime, engine: Engine, client: WhatsApp) -> None:
        self.runtime = runtime
        self.engine = engine
        self.client = client
        self.media = MediaStore(runtime.settings.media_dir)
        settings = runtime.settings
        self.policy = EvidencePolicy(settings.evidence_max_files, settings.evidence_max_mb * MB)
        self._deferred_due = 0.0

    async def process_pending(self, limit: int = 200) -> int:
        """Handle stored, unprocessed rows, oldest first; returns how many were handled.

        A status that arrives before its send is recorded waits ("deferred") without
        holding up new messages, and is tried again every few seconds for ten minutes."""
        rows = await self._load("received", limit)
        if time.monotonic() >= self._deferred_due:
            self._deferred_due = time.monotonic() + DEFERRED_EVERY
            rows = [*await self._load("deferred", limit), *rows]
        by_sender: dict[str, list[Incoming]] = {}
        handled = 0
        statuses: list[tuple[InboundEvent, dict[str, Any]]] = []
        for row in rows:
            try:
                item = self._open(row)
                if "status" in item:
                    statuses.append((row, item["status"]))
                    continue
                incoming = await self._prepare(row, item)
            except (DBAPIError, OSError):
                raise
            except Exception:
                # A message we cannot read must not block the ones behind it.
                log.exception("whatsapp inbound row %s could not be read; skipped", row.id)
                await self._mark_done(row.id or 0)
                handled += 1
                continue
            if incoming is None:
                handled += row.status != "deferred"
                continue
            handled += 1
            by_sender.setdefault(incoming.sender_id, []).append(incoming)
        handled += await self._apply_statuses(statuses)

        async def run_sender(items: list[Incoming]) -> None:
            for incoming in items:
                await self.engine.handle(incoming, queue_replies=True)

        await at_most(PARALLEL_SENDERS, by_sender.values(), run_sender)
        return handled

    async def _load(self, status: str, limit: int) -> list[InboundEvent]:
        async with self.runtime.db.session() as session:
            statement = (
                select(InboundEvent)
                .where(InboundEvent.channel == Channel.WHATSAPP, InboundEvent.status == status)
                .order_by(col(InboundEvent.id))
                .limit(limit)
            )
            return list((await session.exec(statement)).all())

    def _open(self, row: InboundEvent) -> dict[str, Any]:
        sealed = row.payload.get("sealed")
        return json.loads(self.runtime.vault.decrypt(sealed)) if isinstance(sealed, str) else {}

    async def _prepare(self, row: InboundEvent, item: dict[str, Any]) -> Incoming | None:
        """The engine's input for a stored message (None: nothing to answer)."""
        message = item.get("message")
        incoming = (
            await self.to_incoming(row.platform_id, message, item.get("contact") or {})
            if isinstance(message, dict)
            else None
        )
        if incoming is None:
            await self._mark_done(row.id or 0)
        return incoming

    async def _apply_statuses(self, statuses: list[tuple[InboundEvent, dict[str, Any]]]) -> int:
        """Apply a pass's statuses in one transaction (a broadcast brings one or more per
        message sent); returns how many were settled. A status whose send is not recorded
        yet waits ("deferred"); after STATUS_PATIENCE it is dropped as not ours."""
        if not statuses:
            return 0
        now = utcnow()
        settled = 0
        async with self.runtime.db.transaction() as session:
            for row, status in statuses:
                try:
                    applied = await self._apply(session, status, now)
                except (DBAPIError, OSError):
                    raise
                except Exception:
                    log.exception("whatsapp status row %s could not be applied; skipped", row.id)
                    applied = True
                event = await session.get(InboundEvent, row.id)
                if event is None:
                    continue
                fresh = row.status != "deferred"  # a deferred one retried is no new work
                if applied or now - row.received_at > STATUS_PATIENCE:
                    event.status, event.payload, event.processed_at = "processed", {}, now
                    settled += 1 if fresh or applied else 0
                elif fresh:
                    event.status = "deferred"
                    settled += 1
                session.add(event)
        return settled

    async def _mark_done(self, event_id: int) -> None:
        async with self.runtime.db.transaction() as session:
            event = await session.get(InboundEvent, event_id)
            if event is not None:
                event.status, event.payload, event.processed_at = "processed", {}, utcnow()
                session.add(event)

    @staticmethod
    def sender_of(message: dict[str, Any], contact: dict[str, Any]) -> str | None:
        """The business-scoped user id when Meta sends one, else the phone number. (A
        resident known by their phone from before BSUIDs is found by the engine through
        `Incoming.sender_phone`.)"""
        chosen = (
            message.get("from_user_id")
            or contact.get("user_id")
            or contact.get("wa_id")
            or message.get("from")
        )
        return str(chosen) if chosen else None

    async def to_incoming(
        self, wamid: str, message: dict[str, Any], contact: dict[str, Any]
    ) -> Incoming | None:
        """The engine's view of a message; None for what needs no answer (reactions)."""
        kind = str(message.get("type") or "")
        sender = self.sender_of(message, contact)
        if sender is None or kind in IGNORED_TYPES or message.get("group_id"):
            return None
        phone = contact.get("wa_id") or message.get("from")
        base: dict[str, Any] = {
            "channel": Channel.WHATSAPP,
            "sender_id": sender,
            "platform_id": wamid,
            "sender_name": (contact.get("profile") or {}).get("name"),
            "sender_phone": str(phone) if phone else None,
        }
        if kind == "text":
            return Incoming(text=str((message.get("text") or {}).get("body") or ""), **base)
        if kind == "interactive":
            interactive = message.get("interactive") or {}
            reply = interactive.get(str(interactive.get("type") or "")) or {}
            if interactive.get("type") in ("button_reply", "list_reply") and reply.get("id"):
                return Incoming(choice_id=str(reply["id"]), **base)
        elif kind == "button":  # a template's quick-reply button
            payload = (message.get("button") or {}).get("payload")
            if payload:
                return Incoming(choice_id=str(payload), **base)
        elif kind == "location":
            where = message.get("location") or {}
            if "latitude" in where and "longitude" in where:
                location = Location(
                    float(where["latitude"]), float(where["longitude"]), where.get("name")
                )
                return Incoming(location=location, **base)
        elif kind == "contacts":
            shared = _shared_contact(message)
            if shared is not None:
                return Incoming(contact=shared, **base)
        elif kind in MEDIA_KINDS:
            item = message.get(kind) or {}
            media = await self._media(kind, item)
            return Incoming(media=media, text=item.get("caption"), **base)
        return Incoming(unsupported=True, **base)

    async def _media(self, kind: str, item: dict[str, Any]) -> Media:
        name = "voice" if kind == "audio" and item.get("voice") else MEDIA_KINDS[kind]
        mime = str(item.get("mime_type") or "application/octet-stream").split(";")[0].strip()
        media_id = str(item.get("id") or "")
        problem = self.policy.problem(mime, None, 0)
        if problem is not None or not media_id:
            return Media(name, "not-downloaded", mime, None, item.get("filename"))
        try:
            info = await self.client.get_media_url(media_id)
            if info.file_size > self.policy.max_bytes:
                return Media(name, "too-big", mime, info.file_size, item.get("filename"))
            content = await self.client.get_media_bytes(info.url)
        except (WhatsAppError, httpx.HTTPError, OSError) as error:
            log.warning("whatsapp media download failed: %s", type(error).__name__)
            return Media(name, "missing", mime, None, item.get("filename"))
        if len(content) > self.policy.max_bytes:
            return Media(name, "too-big", mime, len(content), item.get("filename"))
        digest = hashlib.sha256(content).hexdigest()
        if any(expected and expected != digest for expected in (info.sha256, item.get("sha256"))):
            log.warning("whatsapp media %s: content does not match its sha256", name)
            return Media(name, "missing", mime, None, item.get("filename"))
        sha = self.media.store(content)
        return Media(name, sha, mime, len(content), item.get("filename"))

    async def apply_status(self, status: dict[str, Any]) -> bool:
        """Move an outbox row (and its message-log rows) to what Meta reports. False when
        the row is not known (yet): a status can overtake the record of its send."""
        async with self.runtime.db.transaction() as session:
            return await self._apply(session, status, utcnow())

    async def _apply(self, session: AsyncSession, status: dict[str, Any], now: datetime) -> bool:
        state = str(status.get("status"))
        tracker = str(status.get("biz_opaque_callback_data") or "")
        row: Outbox | None = None
        if tracker.startswith("outbox:") and tracker[7:].isdigit():
            row = await session.get(Outbox, int(tracker[7:]))
        if row is None:
            row = (
                await session.exec(
                    select(Outbox).where(
                        Outbox.channel == Channel.WHATSAPP,
                        Outbox.platform_message_id == str(status["id"]),
                    )
                )
            ).first()
        if row is None or row.channel != Channel.WHATSAPP:
            return False
        if state == "failed":
            self._failed(row, status)
            if row.reason.startswith(str(UNDELIVERABLE)):
                await outbox_repo.mark_unreachable(session, [row.identity_id], now)
        elif state in STATUS_RANK:
            was_failed = row.status == "failed" and row.reason == "interrupted"
            if was_failed or STATUS_RANK[state] > STATUS_RANK.get(row.status, -1):
                row.status, row.reason = state, ""
                row.claimed_by = None
                row.sent_at = row.sent_at or now
                row.platform_message_id = row.platform_message_id or str(status["id"])
                if state in ("delivered", "read"):
                    row.delivered_at = row.delivered_at or now
                if state == "read":
                    row.read_at = now
        session.add(row)
        await outbox_repo.set_delivery(session, [row.id or 0], row.status)
        return True

    @staticmethod
    def _failed(row: Outbox, status: dict[str, Any]) -> None:
        errors = status.get("errors") or [{}]
        code = int(errors[0].get("code") or 0)
        title = str(errors[0].get("title") or errors[0].get("message") or "")
        if code == RE_ENGAGEMENT and row.sent_as == "free":
            # Delivered too late for the 24-hour window: send it again as its template.
            row.status, row.reason, row.next_attempt_at = "pending", str(RE_ENGAGEMENT), None
            row.parts_sent = 0
            return
        row.status, row.reason = "failed", f"{code} {title}".strip()[:300]


def _shared_contact(message: dict[str, Any]) -> Contact | None:
    for card in message.get("contacts") or []:
        for phone in (card or {}).get("phones") or []:
            number = (phone or {}).get("phone") or (phone or {}).get("wa_id")
            if number:
                name = ((card.get("name") or {}).get("formatted_name")) or None
                return Contact(str(number), name)
    return None


# -- the worker ------------------------------------------------------------------------------


async def work_forever(
    channel: WhatsAppChannel, sender: WhatsAppSender, wake: asyncio.Event, interval: float = 0.5
) -> None:
    """Process stored messages and statuses and send the outbox, woken early by webhooks.
    With several instances only the holder of the phone number's advisory lock works, so
    messages stay in order and one rate limit holds for the number."""
    number = channel.runtime.settings.whatsapp_phone_number_id or "whatsapp"
    leadership = Leadership(channel.runtime.db, f"whatsapp-worker:{number}")
    try:
        while True:
            busy = False
            try:
                if not await leadership.lead():
                    await asyncio.sleep(interval * 10)
                    continue
                busy = await guarded("whatsapp", "inbound", channel.process_pending)
                busy = await guarded("whatsapp", "sending", sender.send_pending) or busy
            except (DBAPIError, OSError, StorageUnavailable) as error:
                log.error("whatsapp worker paused: %s", type(error).__name__)
            except Exception:
                log.exception("whatsapp worker pass failed")
            if busy:
                continue
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
    finally:
        await leadership.release()
