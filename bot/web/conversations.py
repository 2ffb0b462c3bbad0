"""Dashboard: a resident's whole conversation across channels, taking it over to answer by
hand (the bot stays silent) and handing it back. Every view is audited by the service."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.services.conversation_desk import ConversationDesk
from bot.text import redact_id_numbers
from bot.web.dashboard import Dashboard, EmptyText, form_value
from bot.web.notices import notice_url, read_notice
from bot.web.paths import ObjectId
from storage.models import MessageLog
from storage.types import utcnow


def conversations_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime

    @router.get("/residents/{resident_id}", response_class=HTMLResponse)
    async def conversation(request: Request, resident_id: ObjectId) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            view = await ConversationDesk(session, runtime.catalogs).view(
                desk.viewer, resident_id, now
            )
            names = await dash.officer_names(session)
        context = {
            "desk": desk,
            "view": view,
            "taps": tap_labels(view.messages),
            "names": names,
            "message": read_notice(request.query_params, dash.translator(desk.locale)),
        }
        return dash.page(request, "dash_conversation.html", context, desk.locale)

    @router.post("/residents/{resident_id}/{action}")
    async def act(request: Request, resident_id: ObjectId, action: str) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            conversations = ConversationDesk(session, runtime.catalogs)
            if action == "take":
                await conversations.take_over(desk.viewer, resident_id, now)
            elif action == "hand_back":
                await conversations.hand_back(desk.viewer, resident_id, now)
            elif action == "send":
                text = form_value(form, "message")
                if not text:
                    raise EmptyText()
                await conversations.send(desk.viewer, resident_id, text, now)
            else:
                raise EmptyText()
        return RedirectResponse(
            notice_url(f"/residents/{resident_id}", "dash.report.saved"), status_code=303
        )

    return router


def tap_labels(messages: Sequence[MessageLog]) -> dict[int, str]:
    """The label of each button tap (an incoming "choice" row, which keeps only the
    button's id), from the buttons of the last reply before it to that channel identity."""
    offered: dict[int, dict[str, str]] = {}
    labels: dict[int, str] = {}
    for row in messages:
        choices = row.payload.get("choices")
        if row.direction == "out" and isinstance(choices, list) and choices:
            offered[row.identity_id] = {
                str(choice.get("id")): str(choice.get("label"))
                for choice in choices
                if isinstance(choice, dict)
            }
        elif row.direction == "in" and row.kind == "choice" and row.id is not None:
            label = offered.get(row.identity_id, {}).get(str(row.payload.get("choice_id")))
            if label:
                labels[row.id] = redact_id_numbers(label)
    return labels
