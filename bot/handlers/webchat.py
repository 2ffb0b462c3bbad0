"""The web chat channel: `/chat` for trying the bot in a browser, and its JSON endpoint.

A browser is identified by a random cookie; only its hash is stored as the identity.
The dashboard reuses this page as its simulator.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from bot.engine import Engine
from bot.handlers.render import RenderedChoice, numbered, render
from bot.messages import Channel, Incoming
from bot.services.outbox import deliver_pending
from storage.repositories.conversations import find_identity, message_history
from storage.types import utcnow

COOKIE = "bansos_chat"
MAX_TEXT = 20_000


class ChatIn(BaseModel):
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    choice_id: str | None = Field(default=None, max_length=128)
    client_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class ChoiceOut(BaseModel):
    id: str
    label: str
    number: int | None = None  # what the resident may type for it; None: not numbered


class MessageOut(BaseModel):
    direction: str
    text: str
    choices: list[ChoiceOut] = []


class ChatOut(BaseModel):
    locale: str
    messages: list[MessageOut]


def _sender_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:40]


def _token(cookie: str | None) -> tuple[str, bool]:
    if cookie and 20 <= len(cookie) <= 64 and cookie.replace("-", "").replace("_", "").isalnum():
        return cookie, False
    return secrets.token_urlsafe(24), True


def _set_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=60 * 60 * 24 * 30,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def webchat_router(engine: Engine, templates: Any) -> APIRouter:
    router = APIRouter(tags=["webchat"])

    @router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
    async def chat_page(
        request: Request, bansos_chat: Annotated[str | None, Cookie()] = None
    ) -> Response:
        token, new = _token(bansos_chat)
        response: Response = templates.TemplateResponse(
            request, "chat.html", {"office": engine.runtime.settings.office_name}
        )
        if new:
            _set_cookie(response, request, token)
        return response

    @router.post("/chat/messages", response_model=ChatOut)
    async def chat_send(
        body: ChatIn, request: Request, bansos_chat: Annotated[str | None, Cookie()] = None
    ) -> Response:
        token, new = _token(bansos_chat)
        incoming = Incoming(
            channel=Channel.WEBCHAT,
            sender_id=_sender_id(token),
            text=body.text if body.choice_id is None else None,
            choice_id=body.choice_id,
            platform_id=f"{_sender_id(token)[:16]}:{body.client_id}" if body.client_id else None,
        )
        result = await engine.handle(incoming)
        messages = [
            MessageOut(
                direction="out",
                text=m.text,
                choices=_choices_out(m.choices, m.numbered),
            )
            for m in render(engine.runtime.catalogs, result)
        ]
        response = JSONResponse(ChatOut(locale=result.locale, messages=messages).model_dump())
        if new:
            _set_cookie(response, request, token)
        return response

    @router.get("/chat/history", response_model=ChatOut)
    async def chat_history(bansos_chat: Annotated[str | None, Cookie()] = None) -> ChatOut:
        runtime = engine.runtime
        token, new = _token(bansos_chat)
        if new:
            return ChatOut(locale=runtime.settings.default_locale, messages=[])
        async with runtime.db.session() as session:
            identity = await find_identity(session, Channel.WEBCHAT, _sender_id(token))
            rows = await message_history(session, identity.id or 0, 60) if identity else []
        messages = []
        for row in rows:
            if row.delivery == "pending":
                continue  # queued, not delivered yet: /chat/updates hands it over once
            choices = _choices_out(_stored_choices(row.payload.get("choices", [])))
            text = row.text or ("[" + row.kind + "]")
            messages.append(MessageOut(direction=row.direction, text=text, choices=choices))
        return ChatOut(locale=runtime.settings.default_locale, messages=messages)

    @router.get("/chat/updates", response_model=ChatOut)
    async def chat_updates(bansos_chat: Annotated[str | None, Cookie()] = None) -> ChatOut:
        """Messages queued for this browser since it last asked (officers' replies,
        report status changes): the web chat's outbox sender, polled by the page."""
        runtime = engine.runtime
        token, new = _token(bansos_chat)
        locale = runtime.settings.default_locale
        if new:
            return ChatOut(locale=locale, messages=[])
        async with runtime.db.transaction() as session:
            identity = await find_identity(session, Channel.WEBCHAT, _sender_id(token))
            delivered = (
                await deliver_pending(session, runtime.catalogs, identity.id or 0, utcnow())
                if identity
                else []
            )
        messages = [
            MessageOut(
                direction="out", text=row.text, choices=_choices_out(_stored_choices(labels))
            )
            for row, labels in delivered
        ]
        return ChatOut(locale=locale, messages=messages)

    return router


def _stored_choices(items: list[dict[str, str]]) -> tuple[RenderedChoice, ...]:
    """The choices a logged message offered, as its payload keeps them."""
    return tuple(RenderedChoice(str(c.get("id", "")), str(c.get("label", ""))) for c in items)


def _choices_out(choices: tuple[RenderedChoice, ...], numbers: bool = True) -> list[ChoiceOut]:
    return [ChoiceOut(id=c.id, label=c.label, number=n) for n, c in numbered(choices, numbers)]
