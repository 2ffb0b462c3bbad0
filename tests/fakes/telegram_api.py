"""A fake Telegram Bot API server on 127.0.0.1 that speaks the real wire format.

The real aiogram client talks to it through `TELEGRAM_API_URL`. It serves queued updates
to getUpdates, records every call, enforces Telegram's limits (4,096 characters of text,
64 bytes of callback_data, 100 inline buttons) and can be told to answer 429 with
`retry_after`, 500, or 403 for a blocked user. With `global_limit` (messages per second
for the bot) and `chat_limit` (messages, seconds per chat) it enforces flood limits the way
Telegram does: a message over either is refused with 429 and `retry_after`, and counted in
`throttled`.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
BUTTON_LIMIT = 100
SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "copyMessage", "editMessageText"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-TOKEN"
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    blocked_chats: set[int] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)
    global_limit: float | None = None  # messages per second for the whole bot
    chat_limit: tuple[int, float] | None = None  # (messages, seconds) per chat
    throttled: int = 0  # sends refused with 429 by the limits above
    _sent_at: deque[float] = field(default_factory=deque)
    _chat_sent_at: dict[int, deque[float]] = field(default_factory=dict)
    _next_update_id: int = 1000
    _next_message_id: int = 1
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what tests do ---------------------------------------------------------------------

    def update(self, **body: Any) -> dict[str, Any]:
        """Make an update with the next update_id (not queued: tests post or queue it)."""
        self._next_update_id += 1
        return {"update_id": self._next_update_id, **body}

    def message(self, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
        self._next_message_id += 1
        return self.update(
            message={
                "message_id": self._next_message_id,
                "date": 1_790_000_000,
                "chat": {"id": chat_id, "type": "private", "first_name": "Warga"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "Warga"},
                "text": text,
                **extra,
            }
        )

    def tap(self, chat_id: int, data: str, message_id: int = 1) -> dict[str, Any]:
        return self.update(
            callback_query={
                "id": f"cb{self._next_update_id}",
                "chat_instance": "ci",
                "from": {"id": chat_id, "is_bot": False, "first_name": "Warga"},
                "message": {
                    "message_id": message_id,
                    "date": 1_790_000_000,
                    "chat": {"id": chat_id, "type": "private", "first_name": "Warga"},
                    "text": "…",
                },
                "data": data,
            }
        )

    def fail_next(self, method: str, status: int, **body: Any) -> None:
        self.failures.append((method, status, body))

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages shown in a chat, in order: new ones and menus edited in place."""
        return [
            c.params
            for c in self.calls
            if c.method in ("sendMessage", "editMessageText")
            and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [str(p["text"]) for p in self.sent(chat_id)]

    # -- server ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):  # an uploaded file
                params[key] = value.file.read()
                continue
            if not isinstance(value, str):
                params[key] = bytes(value)
                continue
            text = value
            try:
                params[key] = json.loads(text) if text[:1] in "[{" else text
            except json.JSONDecodeError:
                params[key] = text
        for key, value in list(params.items()):  # files sent as "attach://<field>"
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.pop(value.removeprefix("attach://"), b"")
        return params

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        for index, (name, status, body) in enumerate(self.failures):
            if name == method:
                del self.failures[index]
                return _error(status, body.pop("description", "Fake failure"), **body)
        if method in SENDS:
            wait = self._flood_wait(int(params.get("chat_id") or 0))
            if wait is not None:
                self.throttled += 1
                return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        self.calls.append(Call(method, params))
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _ok(True)
        return await handler(params)  # type: ignore[no-any-return]

    def _flood_wait(self, chat_id: int) -> int | None:
        """Seconds to wait when this send would break a flood limit, else None (and the
        send is counted)."""
        now = time.monotonic()
        window = self._sent_at
        while window and window[0] <= now - 1.0:
            window.popleft()
        if self.global_limit is not None and len(window) >= self.global_limit:
            return 1
        chat_window = self._chat_sent_at.setdefault(chat_id, deque())
        if self.chat_limit is not None:
            limit, seconds = self.chat_limit
            while chat_window and chat_window[0] <= now - seconds:
                chat_window.popleft()
            if len(chat_window) >= limit:
                return max(1, math.ceil(chat_window[0] + seconds - now))
        window.append(now)
        chat_window.append(now)
        return None

    async def _getMe(self, _: dict[str, Any]) -> web.Response:
        return _ok({"id": 1, "is_bot": True, "first_name": "Bansos", "username": "bansos_bot"})

    async def _getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            await asyncio.sleep(min(float(params.get("timeout") or 0), 0.05))
        return _ok(self.updates[: int(params.get("limit") or 100)])

    async def _sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        text = str(params.get("text", ""))
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > TEXT_LIMIT:
            return _error(400, "Bad Request: message is too long")
        problem = _markup_problem(params.get("reply_markup"))
        if problem:
            return _error(400, problem)
        self._next_message_id += 1
        return _ok(
            {
                "message_id": self._next_message_id,
                "date": 1_790_000_000,
                "chat": {"id": chat_id, "type": "private"},
                "text": text,
            }
        )

    async def _sendPhoto(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        self._next_message_id += 1
        return _ok(
            {
                "message_id": self._next_message_id,
                "date": 1_790_000_000,
                "chat": {"id": chat_id, "type": "private"},
                "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
            }
        )

    async def _editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "message_id": int(params["message_id"]),
                "date": 1_790_000_000,
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": "…",
            }
        )

    async def _editMessageText(self, params: dict[str, Any]) -> web.Response:
        return await self._sendMessage(params)

    async def _getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}.jpg",
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["path"].rsplit("/", 1)[-1].removesuffix(".jpg")
        if name not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[name])


def _markup_problem(markup: Any) -> str | None:
    if not markup:
        return None
    keyboard = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if keyboard is None:
        return None
    buttons = [button for row in keyboard for button in row]
    if len(buttons) > BUTTON_LIMIT:
        return "Bad Request: too many buttons"
    for button in buttons:
        if len(str(button.get("callback_data", "")).encode()) > CALLBACK_DATA_LIMIT:
            return "Bad Request: BUTTON_DATA_INVALID"
        if not str(button.get("text", "")).strip():
            return "Bad Request: text buttons are unallowed in the inline keyboard"
    return None


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, **extra: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if "retry_after" in extra:
        body["parameters"] = {"retry_after": extra["retry_after"]}
    return web.json_response(body, status=status)
