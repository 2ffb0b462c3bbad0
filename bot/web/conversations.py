"""Dashboard: a resident's whole conversation across channels, taking it over to answer by
hand (the bot stays silent) and handing it back. Every view is audited by the service."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.services.conversation_desk import ConversationDesk
from bot.web.dashboard import Dashboard, EmptyText, form_value
from storage.types import utcnow


def conversations_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime

    @router.get("/residents/{resident_id}", response_class=HTMLResponse)
    async def conversation(request: Request, resident_id: int) -> Response:
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
            "names": names,
            "message": request.query_params.get("done", ""),
        }
        return dash.page(request, "dash_conversation.html", context, desk.locale)

    @router.post("/residents/{resident_id}/{action}")
    async def act(request: Request, resident_id: int, action: str) -> Response:
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
        saved = dash.translator(desk.locale)("dash.report.saved")
        return RedirectResponse(
            f"/residents/{resident_id}?" + urlencode({"done": saved}), status_code=303
        )

    return router
