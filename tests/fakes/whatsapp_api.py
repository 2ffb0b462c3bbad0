"""A fake WhatsApp Cloud (Graph) API server on 127.0.0.1 that speaks the real wire format.

The real pywa client talks to it once its httpx session's ``base_url`` points here (pywa
hard-codes graph.facebook.com). It serves

* ``POST /v{N}/{phone_id}/messages``: sends and mark-as-read (with or without a typing
  indicator), validated like the Cloud API (text 4,096 characters; reply buttons 1..3 with
  titles of 20 characters; lists of 10 rows with titles of 24 characters; template text
  parameters without new lines, tabs or more than 4 consecutive spaces) and answered with
  the Graph error shape on refusal;
* ``POST /v{N}/{phone_id}/media``: uploads (multipart, as pywa sends them);
* ``GET /v{N}/{media_id}`` and ``GET /media/{media_id}``: the media URL, then the bytes.

Every refused send is kept in ``rejected`` as ``(code, body)``; accepted calls are kept in
``calls`` with the wamid they were given. It can be told to fail the next sends
(``fail_next``), to treat a recipient's 24-hour window as closed (``window_closed``), to
enforce throughput and pair rate limits, and to add latency. The builders (``text``,
``button_reply``, ``status_value``, ``webhook``, ``sign``, ...) make webhook JSON shaped as
Meta sends it: contacts carry ``wa_id`` and the business-scoped ``user_id``; messages
carry ``from`` and ``from_user_id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

VERSION_PATTERN = r"v\d+(?:\.\d+)?"
TEXT_LIMIT = 4096
BUTTON_BODY_LIMIT = 1024
LIST_BODY_LIMIT = 4096
HEADER_LIMIT = 60
FOOTER_LIMIT = 60
BUTTONS_MAX = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
LIST_BUTTON_LIMIT = 20
SECTIONS_MAX = 10
ROWS_MAX = 10
ROW_ID_LIMIT = 200
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
SECTION_TITLE_LIMIT = 24
TRACKER_LIMIT = 512

BSUID_RE = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?\d+$")
MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "template",
        "reaction",
    }
)
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
INTERACTIVE_TYPES = frozenset(
    {
        "button",
        "list",
        "cta_url",
        "flow",
        "product",
        "product_list",
        "catalog_message",
        "location_request_message",
        "address_message",
        "call_permission_request",
        "voice_call",
    }
)

RE_ENGAGEMENT = (
    "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number."
)
# code -> (error.message, error_data.details) as the Cloud API words them
ERRORS: dict[int, tuple[str, str]] = {
    1: ("An unknown error has occurred.", "An unknown error has occurred."),
    2: (
        "An unexpected error has occurred. Please retry your request later.",
        "Service unavailable",
    ),
    4: ("(#4) Application request limit reached", "Application request limit reached"),
    100: ("(#100) Invalid parameter", "Invalid parameter"),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
    130429: ("(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131000: ("(#131000) Something went wrong", "Something went wrong"),
    131005: ("(#131005) Access denied", "Permission is either not granted or has been removed."),
    131008: ("(#131008) Required parameter is missing", "Required parameter is missing"),
    131009: ("(#131009) Parameter value is not valid", "Parameter value is not valid"),
    131021: ("(#131021) Recipient cannot be sender", "Sender and recipient phone are the same."),
    131026: ("(#131026) Message undeliverable", "Message Undeliverable."),
    131047: (RE_ENGAGEMENT, RE_ENGAGEMENT),
    131048: ("(#131048) Spam rate limit hit", "Message failed to send because of spam."),
    131049: (
        "(#131049) This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131050: (
        "(#131050) Unable to deliver the message. This recipient has chosen to stop "
        "receiving marketing messages on WhatsApp from your business.",
        "The recipient has stopped marketing messages.",
    ),
    131051: ("(#131051) Unsupported message type", "Message type is currently not supported."),
    131056: (
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone "
        "number in a short period of time.",
    ),
    132000: (
        "(#132000) Number of parameters does not match the expected number of params",
        "Number of parameters does not match the expected number of params",
    ),
    132001: (
        "(#132001) Template name does not exist in the translation",
        "template name does not exist in the translation",
    ),
    132018: (
        "(#132018) There was an issue with the parameters in your template.",
        "There was an issue with the parameters in your template.",
    ),
    133010: ("(#133010) Account not registered", "Account not registered"),
}
# code -> the short title a status webhook's error carries
STATUS_ERROR_TITLES: dict[int, str] = {
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "User has stopped marketing messages",
    131051: "Unsupported message type",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
}

_ids = itertools.count(1)


def new_wamid() -> str:
    """A fresh message id shaped like Meta's (``wamid.`` + an opaque token)."""
    return f"wamid.HBgL{next(_ids):08d}{uuid.uuid4().hex[:20].upper()}"


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header Meta puts on a webhook POST of ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def error_body(
    code: int,
    message: str | None = None,
    details: str | None = None,
    *,
    fbtrace_id: str | None = None,
) -> dict[str, Any]:
    """The ``{"error": {...}}`` body the Graph API answers a refused message send with."""
    default_message, default_details = ERRORS.get(code, (f"(#{code}) Fake failure", ""))
    return {
        "error": {
            "message": message if message is not None else default_message,
            "type": "OAuthException",
            "code": code,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": details if details is not None else default_details,
            },
            "fbtrace_id": fbtrace_id or f"A{uuid.uuid4().hex[:22]}",
        }
    }


class _Refused(Exception):
    """Raised by validation: the send is answered with this Graph error."""

    def __init__(self, code: int, details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


@dataclass
class Call:
    """An accepted POST to /messages (a send, or a mark-as-read)."""

    method: str
    path: str
    body: dict[str, Any]
    wamid: str | None = None  # None for mark-as-read
    tracker: str | None = None  # biz_opaque_callback_data
    at: float = 0.0  # time.monotonic() when accepted

    @property
    def json(self) -> dict[str, Any]:
        return self.body

    @property
    def to(self) -> str | None:
        """The recipient as sent: ``to`` (phone / wa_id) or ``recipient`` (BSUID)."""
        value = self.body.get("to") or self.body.get("recipient")
        return str(value) if value else None

    @property
    def is_read(self) -> bool:
        return self.body.get("status") == "read"


@dataclass
class Failure:
    code: int
    count: int
    http_status: int
    recipient: str | None
    message: str | None
    details: str | None


@dataclass
class Media:
    data: bytes
    mime_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class FakeWhatsApp:
    token: str = "EAAG-TEST-TOKEN"
    phone_id: str = "109876543210"
    display_phone_number: str = "6281100000000"
    waba_id: str = "WABA1"
    calls: list[Call] = field(default_factory=list)
    rejected: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    window_closed: set[str] = field(default_factory=set)
    media: dict[str, Media] = field(default_factory=dict)
    throughput_limit: float | None = None  # messages per second for the phone number
    pair_limit: tuple[int, float] | None = None  # (messages, seconds) per recipient
    latency: float = 0.0  # seconds added to every POST /messages
    # Where Meta would POST status webhooks (url, app secret): a "sent" status for every
    # accepted message, several to a webhook as Meta batches them, retried while the app
    # does not answer 200, as Meta does.
    status_webhook: tuple[str, str] | None = None
    webhook_retry_seconds: float = 0.5
    statuses_per_webhook: int = 100
    statuses_delivered: int = 0
    port: int = 0
    _statuses_due: list[Call] = field(default_factory=list)
    _webhook_task: asyncio.Task[None] | None = None
    _sent_at: deque[float] = field(default_factory=deque)
    _pair_sent_at: dict[str, deque[float]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what tests set up ---------------------------------------------------------------

    def fail_next(
        self,
        code: int,
        *,
        count: int = 1,
        http_status: int = 400,
        recipient: str | None = None,
        message: str | None = None,
        details: str | None = None,
    ) -> None:
        """Answer the next ``count`` message sends (to ``recipient``, matching ``to`` or
        ``recipient``, if given) with Graph error ``code``; message and details default to
        the Cloud API's wording for that code."""
        self.failures.append(Failure(code, count, http_status, recipient, message, details))

    def add_media(self, data: bytes, mime_type: str, media_id: str | None = None) -> str:
        media_id = media_id or str(1_000_000_000_000 + next(_ids))
        self.media[media_id] = Media(data, mime_type)
        return media_id

    # -- what tests read -----------------------------------------------------------------

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Accepted message bodies in order (no mark-as-read), optionally for one recipient."""
        return [
            c.body for c in self.calls if not c.is_read and (to is None or _matches(c.body, to))
        ]

    def sent_calls(self, to: str | None = None) -> list[Call]:
        """Like ``sent`` but the ``Call`` records (with ``wamid`` and ``tracker``)."""
        return [c for c in self.calls if not c.is_read and (to is None or _matches(c.body, to))]

    def texts(self, to: str | None = None) -> list[str]:
        """What the user sees of each sent message: the text body, the interactive body,
        ``"template:<name> " + body parameters joined by " | "``, a media caption, or
        ``"[<type>]"`` for anything else."""
        return [visible_text(body) for body in self.sent(to)]

    def last_buttons(self, to: str | None = None) -> list[tuple[str, str]]:
        """(id, title) of the reply buttons or list rows of the last interactive message."""
        for body in reversed(self.sent(to)):
            if body.get("type") == "interactive":
                return buttons_of(body)
        return []

    def read_receipts(self) -> list[str]:
        """The message ids marked as read, in order."""
        return [str(c.body.get("message_id")) for c in self.calls if c.is_read]

    # -- webhook builders ----------------------------------------------------------------

    def webhook(self, *values: dict[str, Any], waba_id: str | None = None) -> dict[str, Any]:
        """The envelope Meta POSTs: one entry, one ``messages`` change per value."""
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": waba_id or self.waba_id,
                    "changes": [{"field": "messages", "value": value} for value in values],
                }
            ],
        }

    def metadata(self) -> dict[str, str]:
        return {
            "display_phone_number": self.display_phone_number,
            "phone_number_id": self.phone_id,
        }

    def message_value(
        self, *messages: dict[str, Any], contacts: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A change value carrying ``messages``; ``contacts`` default to one per sender."""
        if contacts is None:
            contacts = []
            seen: set[tuple[Any, Any]] = set()
            for message in messages:
                key = (message.get("from"), message.get("from_user_id"))
                if key not in seen:
                    seen.add(key)
                    contacts.append(contact(message.get("from"), message.get("from_user_id")))
        return {
            "messaging_product": "whatsapp",
            "metadata": self.metadata(),
            "contacts": contacts,
            "messages": list(messages),
        }

    def contact(
        self, wa_id: str | None, user_id: str | None = None, name: str = "Warga"
    ) -> dict[str, Any]:
        return contact(wa_id, user_id, name)

    def say(
        self, wa_id: str | None, body: str, user_id: str | None = None, name: str = "Warga"
    ) -> dict[str, Any]:
        """A whole webhook: one text message from ``wa_id`` and its contact."""
        return self.webhook(
            self.message_value(
                self.text(wa_id, body, user_id), contacts=[contact(wa_id, user_id, name)]
            )
        )

    def deliver(self, *messages: dict[str, Any]) -> dict[str, Any]:
        """A whole webhook carrying ``messages`` with their senders as contacts."""
        return self.webhook(self.message_value(*messages))

    def text(
        self,
        wa_id: str | None,
        body: str,
        user_id: str | None = None,
        *,
        context: str | None = None,
    ) -> dict[str, Any]:
        return self._message(wa_id, user_id, "text", {"body": body}, context=context)

    def button_reply(
        self,
        wa_id: str | None,
        id: str,
        title: str,
        user_id: str | None = None,
        *,
        context: str | None = None,
    ) -> dict[str, Any]:
        """A tap on a reply button; ``context`` is the wamid of the message it was on
        (default: the last message sent to this user, as taps always quote one)."""
        return self._message(
            wa_id,
            user_id,
            "interactive",
            {"type": "button_reply", "button_reply": {"id": id, "title": title}},
            context=self._reply_context(wa_id, user_id, context),
        )

    def list_reply(
        self,
        wa_id: str | None,
        id: str,
        title: str,
        description: str = "",
        user_id: str | None = None,
        *,
        context: str | None = None,
    ) -> dict[str, Any]:
        reply = {"id": id, "title": title}
        if description:
            reply["description"] = description
        return self._message(
            wa_id,
            user_id,
            "interactive",
            {"type": "list_reply", "list_reply": reply},
            context=self._reply_context(wa_id, user_id, context),
        )

    def template_button(
        self,
        wa_id: str | None,
        payload: str,
        text: str,
        user_id: str | None = None,
        *,
        context: str | None = None,
    ) -> dict[str, Any]:
        """A tap on a template's quick-reply button."""
        return self._message(
            wa_id,
            user_id,
            "button",
            {"payload": payload, "text": text},
            context=self._reply_context(wa_id, user_id, context),
        )

    def image(
        self,
        wa_id: str | None,
        media_id: str,
        mime: str = "image/jpeg",
        caption: str | None = None,
        sha256: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self._message(
            wa_id, user_id, "image", self._media(media_id, mime, sha256, caption=caption)
        )

    def document(
        self,
        wa_id: str | None,
        media_id: str,
        filename: str = "dokumen.pdf",
        mime: str = "application/pdf",
        caption: str | None = None,
        sha256: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self._message(
            wa_id,
            user_id,
            "document",
            self._media(media_id, mime, sha256, caption=caption, filename=filename),
        )

    def audio(
        self,
        wa_id: str | None,
        media_id: str,
        voice: bool = True,
        mime: str = "audio/ogg; codecs=opus",
        sha256: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self._message(
            wa_id, user_id, "audio", {**self._media(media_id, mime, sha256), "voice": voice}
        )

    def video(
        self,
        wa_id: str | None,
        media_id: str,
        mime: str = "video/mp4",
        caption: str | None = None,
        sha256: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self._message(
            wa_id, user_id, "video", self._media(media_id, mime, sha256, caption=caption)
        )

    def sticker(
        self,
        wa_id: str | None,
        media_id: str = "STICKER1",
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self._message(
            wa_id,
            user_id,
            "sticker",
            {**self._media(media_id, "image/webp", None), "animated": False},
        )

    def location(
        self,
        wa_id: str | None,
        lat: float,
        lng: float,
        name: str | None = None,
        address: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        place: dict[str, Any] = {"latitude": lat, "longitude": lng}
        if name is not None:
            place["name"] = name
        if address is not None:
            place["address"] = address
        return self._message(wa_id, user_id, "location", place)

    def contacts_message(
        self,
        wa_id: str | None,
        phone: str,
        name: str,
        user_id: str | None = None,
        contact_wa_id: str | None = None,
    ) -> dict[str, Any]:
        """A shared contact card; its ``wa_id`` defaults to the digits of ``phone``."""
        card = {
            "name": {"formatted_name": name, "first_name": name},
            "phones": [
                {
                    "phone": phone,
                    "wa_id": contact_wa_id or re.sub(r"\D", "", phone),
                    "type": "CELL",
                }
            ],
        }
        return self._message(wa_id, user_id, "contacts", [card])

    def reaction(
        self,
        wa_id: str | None,
        message_id: str,
        emoji: str,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self._message(wa_id, user_id, "reaction", {"message_id": message_id, "emoji": emoji})

    def unsupported(
        self, wa_id: str | None, user_id: str | None = None, kind: str = "unknown"
    ) -> dict[str, Any]:
        message = self._message(wa_id, user_id, "unsupported", {"type": kind})
        message["errors"] = [
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ]
        return message

    def status_value(
        self,
        wamid: str,
        status: str,
        recipient_wa_id: str | None,
        *,
        user_id: str | None = None,
        tracker: str | None = None,
        error_code: int | None = None,
        with_contacts: bool = True,
    ) -> dict[str, Any]:
        """A change value with one status (sent, delivered, read, failed) for ``wamid``."""
        entry: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": _now(),
        }
        if recipient_wa_id is not None:
            entry["recipient_id"] = recipient_wa_id
        if user_id is not None:
            entry["recipient_user_id"] = user_id
        if tracker is not None:
            entry["biz_opaque_callback_data"] = tracker
        if status in ("sent", "delivered", "read"):
            entry["pricing"] = {
                "billable": False,
                "pricing_model": "PMP",
                "category": "service",
                "type": "free_customer_service",
            }
        if error_code is not None:
            message, details = ERRORS.get(error_code, (f"Error {error_code}", ""))
            title = STATUS_ERROR_TITLES.get(error_code, re.sub(r"^\(#\d+\) ", "", message))
            entry["errors"] = [
                {
                    "code": error_code,
                    "title": title,
                    "message": title,
                    "error_data": {"details": details},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }
            ]
        value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": self.metadata()}
        if with_contacts:
            person: dict[str, Any] = {}
            if recipient_wa_id is not None:
                person["wa_id"] = recipient_wa_id
            if user_id is not None:
                person["user_id"] = user_id
            value["contacts"] = [person]
        value["statuses"] = [entry]
        return value

    def status(
        self,
        call: Call,
        status: str,
        *,
        user_id: str | None = None,
        error_code: int | None = None,
        with_contacts: bool = True,
    ) -> dict[str, Any]:
        """A whole status webhook for an accepted send (its wamid, recipient and tracker)."""
        assert call.wamid is not None, "mark-as-read calls have no status"
        to = call.body.get("to")
        recipient = call.body.get("recipient")
        return self.webhook(
            self.status_value(
                call.wamid,
                status,
                re.sub(r"\D", "", str(to)) if to else None,
                user_id=user_id or (str(recipient) if recipient else None),
                tracker=call.tracker,
                error_code=error_code,
                with_contacts=with_contacts,
            )
        )

    @staticmethod
    def sign(body: bytes, app_secret: str) -> str:
        return sign(body, app_secret)

    def _reply_context(self, wa_id: str | None, user_id: str | None, context: str | None) -> str:
        """Taps always quote the message tapped: ``context``, else the last message sent to
        this user (or a fresh wamid when nothing was)."""
        if context is not None:
            return context
        names = {name for name in (wa_id, user_id) if name}
        for call in reversed(self.calls):
            if call.wamid and names & _keys_or_empty(call.body):
                return call.wamid
        return new_wamid()

    def _message(
        self,
        wa_id: str | None,
        user_id: str | None,
        typ: str,
        content: Any,
        *,
        context: str | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {}
        if wa_id is not None:
            message["from"] = wa_id
        if user_id is not None:
            message["from_user_id"] = user_id
        message |= {"id": new_wamid(), "timestamp": _now(), "type": typ, typ: content}
        if context is not None:
            message["context"] = {"from": self.display_phone_number, "id": context}
        return message

    def _media(
        self,
        media_id: str,
        mime: str,
        sha256: str | None,
        *,
        caption: str | None = None,
        filename: str | None = None,
    ) -> dict[str, Any]:
        stored = self.media.get(media_id)
        if sha256 is None:
            sha256 = stored.sha256 if stored else hashlib.sha256(media_id.encode()).hexdigest()
        item: dict[str, Any] = {"mime_type": mime, "sha256": sha256, "id": media_id}
        if caption is not None:
            item["caption"] = caption
        if filename is not None:
            item["filename"] = filename
        return item

    # -- server --------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(f"/{{version:{VERSION_PATTERN}}}/{{phone_id}}/messages", self._messages)
        app.router.add_post(f"/{{version:{VERSION_PATTERN}}}/{{phone_id}}/media", self._upload)
        app.router.add_get(f"/{{version:{VERSION_PATTERN}}}/{{media_id}}", self._media_url)
        app.router.add_get("/media/{media_id}", self._media_bytes)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        record = body if isinstance(body, dict) else {}
        if not self._authorized(request):
            return self._refuse(record, _auth_error(), 401)
        if request.match_info["phone_id"] != self.phone_id:
            return self._refuse(record, _unknown_object(request.match_info["phone_id"]), 400)
        if not isinstance(body, dict):
            return self._refuse(record, error_body(100, details="Request body must be JSON"), 400)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        path = request.path
        if body.get("status") == "read":
            if body.get("messaging_product") != "whatsapp":
                return self._refused(body, _Refused(100, "Param messaging_product is required"))
            if not body.get("message_id"):
                return self._refused(body, _Refused(131008, "Param message_id is required"))
            self.calls.append(Call("POST", path, body, at=time.monotonic()))
            return web.json_response({"success": True})
        try:
            keys = _recipient_keys(body)
        except _Refused as refusal:
            return self._refused(body, refusal)
        failure = self._take_failure(keys)
        if failure is not None:
            return self._refuse(
                body,
                error_body(failure.code, failure.message, failure.details),
                failure.http_status,
            )
        try:
            _validate(body)
        except _Refused as refusal:
            return self._refused(body, refusal)
        if body.get("type", "text") != "template" and keys & self.window_closed:
            return self._refuse(body, error_body(131047), 400)
        now = time.monotonic()
        if self.throughput_limit is not None:
            while self._sent_at and self._sent_at[0] <= now - 1.0:
                self._sent_at.popleft()
            if len(self._sent_at) >= self.throughput_limit:
                return self._refuse(body, error_body(130429), 400)
        pair_key = _canonical(body)
        if self.pair_limit is not None:
            limit, seconds = self.pair_limit
            times = self._pair_sent_at.setdefault(pair_key, deque())
            while times and times[0] <= now - seconds:
                times.popleft()
            if len(times) >= limit:
                return self._refuse(body, error_body(131056), 400)
        self._sent_at.append(now)
        if self.pair_limit is not None:
            self._pair_sent_at[pair_key].append(now)
        wamid = new_wamid()
        tracker = body.get("biz_opaque_callback_data")
        self.calls.append(
            Call("POST", path, body, wamid, str(tracker) if tracker is not None else None, now)
        )
        to, recipient = body.get("to"), body.get("recipient")
        person = (
            {"input": str(to), "wa_id": _canonical(body)}
            if to
            else {"input": str(recipient), "user_id": str(recipient)}
        )
        sent: dict[str, str] = {"id": wamid}
        if body.get("type") == "template":
            sent["message_status"] = "accepted"
        if self.status_webhook is not None:
            self._statuses_due.append(self.calls[-1])
            if self._webhook_task is None or self._webhook_task.done():
                self._webhook_task = asyncio.create_task(self._post_statuses())
        return web.json_response(
            {"messaging_product": "whatsapp", "contacts": [person], "messages": [sent]}
        )

    async def _post_statuses(self) -> None:
        """POST the "sent" statuses of accepted messages to the app, signed, a batch to a
        webhook, until it answers 200 (Meta retries failed deliveries)."""
        assert self.status_webhook is not None
        url, secret = self.status_webhook
        async with aiohttp.ClientSession() as client:
            while self._statuses_due:
                batch = self._statuses_due[: self.statuses_per_webhook]
                body = json.dumps(
                    self.webhook(*(self.status(c, "sent")["entry"][0]["changes"][0]["value"]
                                   for c in batch))
                ).encode()  # fmt: skip
                headers = {
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": sign(body, secret),
                }
                try:
                    async with client.post(url, data=body, headers=headers) as answer:
                        delivered = answer.status == 200
                except aiohttp.ClientError:
                    delivered = False
                if delivered:
                    del self._statuses_due[: len(batch)]
                    self.statuses_delivered += len(batch)
                else:
                    await asyncio.sleep(self.webhook_retry_seconds)

    def _take_failure(self, keys: set[str]) -> Failure | None:
        for failure in self.failures:
            if failure.recipient is None or failure.recipient in keys:
                failure.count -= 1
                if failure.count <= 0:
                    self.failures.remove(failure)
                return failure
        return None

    def _refused(self, body: dict[str, Any], refusal: _Refused) -> web.Response:
        return self._refuse(body, error_body(refusal.code, details=refusal.details), 400)

    def _refuse(self, body: dict[str, Any], error: dict[str, Any], status: int) -> web.Response:
        self.rejected.append((int(error["error"]["code"]), body))
        return web.json_response(error, status=status)

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response(_auth_error(), status=401)
        if request.match_info["phone_id"] != self.phone_id:
            return web.json_response(_unknown_object(request.match_info["phone_id"]), status=400)
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return web.json_response(
                error_body(131008, details="Param file is required"), status=400
            )
        mime = str(form.get("type") or upload.content_type or "application/octet-stream")
        media_id = self.add_media(upload.file.read(), mime)
        return web.json_response({"id": media_id})

    async def _media_url(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response(_auth_error(), status=401)
        media_id = request.match_info["media_id"]
        media = self.media.get(media_id)
        if media is None:
            return web.json_response(_unknown_object(media_id, "get"), status=400)
        return web.json_response(
            {
                "url": f"{self.base_url}/media/{media_id}",
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": len(media.data),
                "id": media_id,
                "messaging_product": "whatsapp",
            }
        )

    async def _media_bytes(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response(_auth_error(), status=401)
        media = self.media.get(request.match_info["media_id"])
        if media is None:
            return web.Response(status=404)
        return web.Response(body=media.data, headers={"Content-Type": media.mime_type})


# -- reading what was sent -----------------------------------------------------------------


def contact(wa_id: str | None, user_id: str | None = None, name: str = "Warga") -> dict[str, Any]:
    """A webhook contact: profile name, ``wa_id`` (phone) and ``user_id`` (BSUID) if given."""
    person: dict[str, Any] = {"profile": {"name": name}}
    if wa_id is not None:
        person["wa_id"] = wa_id
    if user_id is not None:
        person["user_id"] = user_id
    return person


def visible_text(body: dict[str, Any]) -> str:
    typ = body.get("type", "text")
    content = body.get(typ)
    if not isinstance(content, dict):
        return f"[{typ}]"
    if typ == "text":
        return str(content.get("body", ""))
    if typ == "interactive":
        return str((content.get("body") or {}).get("text", ""))
    if typ == "template":
        texts = [
            str(parameter.get("text", ""))
            for component in content.get("components") or []
            if str(component.get("type", "")).lower() == "body"
            for parameter in component.get("parameters") or []
            if parameter.get("type") == "text"
        ]
        return f"template:{content.get('name')} {' | '.join(texts)}".rstrip()
    if content.get("caption"):
        return str(content["caption"])
    return f"[{typ}]"


def buttons_of(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, title) of an interactive message's reply buttons or list rows."""
    interactive = body.get("interactive") or {}
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [
            (str(b["reply"]["id"]), str(b["reply"]["title"])) for b in action.get("buttons", [])
        ]
    if interactive.get("type") == "list":
        return [
            (str(row["id"]), str(row["title"]))
            for section in action.get("sections", [])
            for row in section.get("rows", [])
        ]
    return []


def _matches(body: dict[str, Any], who: str) -> bool:
    return who in _keys_or_empty(body)


def _keys_or_empty(body: dict[str, Any]) -> set[str]:
    try:
        return _recipient_keys(body)
    except _Refused:
        return set()


def _canonical(body: dict[str, Any]) -> str:
    """One name per recipient: the digits of ``to``, or the BSUID."""
    to = body.get("to")
    if to:
        return re.sub(r"\D", "", str(to)) or str(to)
    return str(body.get("recipient"))


def _recipient_keys(body: dict[str, Any]) -> set[str]:
    """The names a send's recipient goes by (``to`` as given and its digits, or the BSUID);
    also checks messaging_product and that exactly one of to/recipient is set."""
    if "messaging_product" not in body:
        raise _Refused(131008, "The parameter messaging_product is required.")
    if body["messaging_product"] != "whatsapp":
        raise _Refused(100, "Param messaging_product must be one of {WHATSAPP}")
    to, recipient = body.get("to"), body.get("recipient")
    if to is None and recipient is None:
        raise _Refused(131008, "The parameter to or recipient is required.")
    if to is not None and recipient is not None:
        raise _Refused(131009, "Only one of the parameters to and recipient may be given.")
    if to is not None:
        if not isinstance(to, str) or not to.strip():
            raise _Refused(100, "Param to must be a non-empty string.")
        return {to, re.sub(r"\D", "", to)} - {""}
    if not isinstance(recipient, str) or not BSUID_RE.fullmatch(recipient):
        raise _Refused(100, "Param recipient must be a business-scoped user ID.")
    return {recipient}


# -- validation ----------------------------------------------------------------------------


def _obj(parent: dict[str, Any], key: str, where: str, *, required: bool = True) -> Any:
    if key not in parent or parent[key] is None:
        if required:
            raise _Refused(131008, f"Param {where} is required.")
        return None
    value = parent[key]
    if not isinstance(value, dict):
        raise _Refused(100, f"Param {where} must be a JSON object.")
    return value


def _list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    if key not in parent or parent[key] is None:
        raise _Refused(131008, f"Param {where} is required.")
    value = parent[key]
    if not isinstance(value, list):
        raise _Refused(100, f"Param {where} must be an array.")
    return value


def _text(
    parent: dict[str, Any],
    key: str,
    where: str,
    label: str,
    high: int,
    *,
    low: int = 1,
    required: bool = True,
) -> str | None:
    if key not in parent or parent[key] is None:
        if required:
            raise _Refused(131008, f"Param {where} is required.")
        return None
    value = parent[key]
    if not isinstance(value, str):
        raise _Refused(100, f"Param {where} must be a string.")
    if not low <= len(value) <= high:
        raise _Refused(131009, f"{label} length invalid. Min length: {low}, Max length: {high}")
    return value


def _validate(body: dict[str, Any]) -> None:
    tracker = body.get("biz_opaque_callback_data")
    if tracker is not None and (not isinstance(tracker, str) or len(tracker) > TRACKER_LIMIT):
        raise _Refused(
            131009, f"Param biz_opaque_callback_data must be at most {TRACKER_LIMIT} characters."
        )
    typ = body.get("type", "text")
    if typ not in MESSAGE_TYPES:
        raise _Refused(100, f"Param type must be one of {sorted(MESSAGE_TYPES)} - got {typ!r}.")
    if typ == "contacts":
        _list(body, "contacts", "contacts")
        return
    content = _obj(body, typ, typ)
    if typ == "text":
        body_text = _text(content, "body", "text['body']", "Text body", TEXT_LIMIT)
        if body_text is not None and not body_text.strip():
            raise _Refused(131009, "Param text['body'] must not be empty.")
    elif typ == "interactive":
        _validate_interactive(content)
    elif typ == "template":
        _validate_template(content)
    elif typ in MEDIA_TYPES:
        if not content.get("id") and not content.get("link"):
            raise _Refused(131008, f"Param {typ}['id'] or {typ}['link'] is required.")
    elif typ == "location":
        for key in ("latitude", "longitude"):
            if key not in content:
                raise _Refused(131008, f"Param location['{key}'] is required.")
    elif typ == "reaction":
        _text(content, "message_id", "reaction['message_id']", "Message id", 512)
        _text(content, "emoji", "reaction['emoji']", "Emoji", 32, low=0, required=False)


def _validate_interactive(interactive: dict[str, Any]) -> None:
    kind = interactive.get("type")
    if kind is None:
        raise _Refused(131008, "Param interactive['type'] is required.")
    if kind not in INTERACTIVE_TYPES:
        raise _Refused(100, f"Param interactive['type'] must be one of {sorted(INTERACTIVE_TYPES)}")
    header = _obj(interactive, "header", "interactive['header']", required=False)
    if header is not None:
        if header.get("type") is None:
            raise _Refused(131008, "Param interactive['header']['type'] is required.")
        if header["type"] == "text":
            _text(header, "text", "interactive['header']['text']", "Header text", HEADER_LIMIT)
        elif kind == "list":
            raise _Refused(131009, "List messages only support a text header.")
    footer = _obj(interactive, "footer", "interactive['footer']", required=False)
    if footer is not None:
        _text(footer, "text", "interactive['footer']['text']", "Footer text", FOOTER_LIMIT)
    if kind not in ("button", "list"):
        body = _obj(interactive, "body", "interactive['body']", required=False)
        if body is not None:
            _text(body, "text", "interactive['body']['text']", "Body text", BUTTON_BODY_LIMIT)
        return
    body = _obj(interactive, "body", "interactive['body']")
    body_limit = BUTTON_BODY_LIMIT if kind == "button" else LIST_BODY_LIMIT
    _text(body, "text", "interactive['body']['text']", "Body text", body_limit)
    action = _obj(interactive, "action", "interactive['action']")
    if kind == "button":
        _validate_buttons(action)
    else:
        _validate_list(action)


def _validate_buttons(action: dict[str, Any]) -> None:
    buttons = _list(action, "buttons", "interactive['action']['buttons']")
    if not 1 <= len(buttons) <= BUTTONS_MAX:
        raise _Refused(
            131009,
            f"Param interactive['action']['buttons'] must have between 1 and {BUTTONS_MAX} items.",
        )
    ids: set[str] = set()
    titles: set[str] = set()
    for index, button in enumerate(buttons):
        where = f"interactive['action']['buttons'][{index}]"
        if not isinstance(button, dict):
            raise _Refused(100, f"Param {where} must be a JSON object.")
        if button.get("type") != "reply":
            raise _Refused(131009, f"Param {where}['type'] must be 'reply'.")
        reply = _obj(button, "reply", f"{where}['reply']")
        button_id = _text(reply, "id", f"{where}['reply']['id']", "Button id", BUTTON_ID_LIMIT)
        title = _text(
            reply, "title", f"{where}['reply']['title']", "Button title", BUTTON_TITLE_LIMIT
        )
        assert button_id is not None and title is not None
        if title in titles:
            raise _Refused(131009, "Button title is not unique.")
        if button_id in ids:
            raise _Refused(131009, "Button id is not unique.")
        titles.add(title)
        ids.add(button_id)


def _validate_list(action: dict[str, Any]) -> None:
    _text(action, "button", "interactive['action']['button']", "Button label", LIST_BUTTON_LIMIT)
    sections = _list(action, "sections", "interactive['action']['sections']")
    if not 1 <= len(sections) <= SECTIONS_MAX:
        raise _Refused(
            131009,
            f"Param interactive['action']['sections'] must have between 1 and {SECTIONS_MAX} "
            "items.",
        )
    total = 0
    ids: set[str] = set()
    for s_index, section in enumerate(sections):
        where = f"interactive['action']['sections'][{s_index}]"
        if not isinstance(section, dict):
            raise _Refused(100, f"Param {where} must be a JSON object.")
        if len(sections) > 1:
            _text(section, "title", f"{where}['title']", "Section title", SECTION_TITLE_LIMIT)
        else:
            _text(
                section,
                "title",
                f"{where}['title']",
                "Section title",
                SECTION_TITLE_LIMIT,
                low=0,
                required=False,
            )
        rows = _list(section, "rows", f"{where}['rows']")
        total += len(rows)
        for r_index, row in enumerate(rows):
            row_where = f"{where}['rows'][{r_index}]"
            if not isinstance(row, dict):
                raise _Refused(100, f"Param {row_where} must be a JSON object.")
            row_id = _text(row, "id", f"{row_where}['id']", "Row id", ROW_ID_LIMIT)
            _text(row, "title", f"{row_where}['title']", "Row title", ROW_TITLE_LIMIT)
            _text(
                row,
                "description",
                f"{row_where}['description']",
                "Row description",
                ROW_DESCRIPTION_LIMIT,
                low=0,
                required=False,
            )
            assert row_id is not None
            if row_id in ids:
                raise _Refused(131009, f"Row id is not unique: {row_id!r}.")
            ids.add(row_id)
    if not 1 <= total <= ROWS_MAX:
        raise _Refused(131009, f"Total row count exceed max allowed count: {ROWS_MAX}")


def _validate_template(template: dict[str, Any]) -> None:
    _text(template, "name", "template['name']", "Template name", 512)
    language = _obj(template, "language", "template['language']")
    _text(language, "code", "template['language']['code']", "Language code", 15)
    components = template.get("components")
    if components is None:
        return
    if not isinstance(components, list):
        raise _Refused(100, "Param template['components'] must be an array.")
    for c_index, component in enumerate(components):
        if not isinstance(component, dict):
            raise _Refused(100, f"Param template['components'][{c_index}] must be a JSON object.")
        if str(component.get("type", "")).lower() != "body":
            continue
        parameters = component.get("parameters") or []
        if not isinstance(parameters, list):
            raise _Refused(
                100, f"Param template['components'][{c_index}]['parameters'] must be an array."
            )
        for p_index, parameter in enumerate(parameters):
            where = f"template['components'][{c_index}]['parameters'][{p_index}]"
            if not isinstance(parameter, dict):
                raise _Refused(100, f"Param {where} must be a JSON object.")
            if parameter.get("type") != "text":
                continue
            text = parameter.get("text")
            if not isinstance(text, str) or not text:
                raise _Refused(131008, f"Param {where}['text'] is required.")
            if "\n" in text or "\t" in text or "     " in text:
                raise _Refused(
                    131009,
                    f"Param {where}['text'] cannot have new-line/tab characters or more than "
                    "4 consecutive spaces.",
                )


def _auth_error() -> dict[str, Any]:
    return {
        "error": {
            "message": ERRORS[190][0],
            "type": "OAuthException",
            "code": 190,
            "fbtrace_id": f"A{uuid.uuid4().hex[:22]}",
        }
    }


def _unknown_object(object_id: str, method: str = "post") -> dict[str, Any]:
    return {
        "error": {
            "message": (
                f"Unsupported {method} request. Object with ID '{object_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this "
                "operation. Please read the Graph API documentation at "
                "https://developers.facebook.com/docs/graph-api"
            ),
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": f"A{uuid.uuid4().hex[:22]}",
        }
    }


def _now() -> str:
    return str(int(time.time()))
