"""Ids typed by people: in dashboard paths and in form fields.

A dashboard route takes its object's id as `ObjectId`:

    @router.get("/reports/{report_id}")
    async def report_page(request: Request, report_id: ObjectId) -> Response: ...

An id that is not a number, or is outside the database's 32-bit integer columns
(1..2147483647), never reaches the services: the app answers with the dashboard's own
"not found" page (`bot/web/screens.py`, `invalid_request`). Form fields go through `form_id`,
which reads ASCII digits only ("²".isdigit() is true, and int("²") fails).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from bot.text import MAX_ROW_ID as MAX_ID
from bot.text import row_id as form_id

__all__ = ["MAX_ID", "ObjectId", "form_id"]

ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
