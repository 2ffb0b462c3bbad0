"""Dashboard: importing the aid register from a CSV or XLSX file (admins).

Upload → a dry run over the whole file (nothing written) with its error report → confirm
→ the import. Between the two the file waits under `MEDIA_DIR/imports` with a random name
(only the admin's own page knows it); it is deleted after the import, on discard, and
when older than a day. Very large files are better imported with `bansos registry import`.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile
from starlette.types import Message

from bot.services.officer_auth import csrf_ok
from bot.services.registry_import import RegistryImport, summary_text
from bot.services.registry_reader import UnreadableFile
from bot.services.registry_rows import RowError
from bot.services.villages import VillageDirectory
from bot.web.dashboard import Dashboard, Desk, FormExpired, form_value, require_admin
from storage.types import utcnow

MAX_UPLOAD = 200 * 1024 * 1024
ERRORS_SHOWN = 50
SUFFIXES = (".csv", ".xlsx")
UPLOAD_NAME = re.compile(r"^[A-Za-z0-9_-]{20,64}\.(csv|xlsx)$")
KEEP_SECONDS = 24 * 3600
DIGITS = re.compile(r"[0-9]{1,20}")


def registry_import_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime
    folder = runtime.settings.media_dir / "imports"

    async def signed_in_admin(request: Request) -> Desk:
        async with dash.work() as session:
            desk = await dash.desk(request, session, utcnow())
            require_admin(desk)
        return desk

    def page(request: Request, desk: Desk, **context: Any) -> Response:
        return dash.page(
            request, "dash_registry_import.html", {"desk": desk, **context}, desk.locale
        )

    async def run(path: Path, desk: Desk, dry_run: bool) -> dict[str, Any]:
        t = dash.translator(desk.locale)
        errors: list[str] = []

        def on_error(error: RowError) -> None:
            if len(errors) < ERRORS_SHOWN:
                reason = t(
                    f"import.error.{error.code}",
                    column=error.column,
                    value=error.value,
                    other_line=error.other_line,
                )
                errors.append(t("import.error_line", line=error.line, reason=reason))

        async with dash.work() as session:
            await VillageDirectory(session).sync_from_settings(runtime.settings)
        try:
            report = await RegistryImport(
                runtime.db, runtime.vault, runtime.settings, actor=desk.viewer.actor
            ).run(path, dry_run=dry_run, on_error=on_error)
        except UnreadableFile as unreadable:
            # A reader's detail may be an English library message: only the line is shown.
            detail = unreadable.detail.split(":", 1)[0]
            return {"problem": t(f"import.file.{unreadable.code}", detail=detail)}
        return {"summary": summary_text(t, report), "errors": errors, "report": report}

    @router.get("/registry/import", response_class=HTMLResponse)
    async def form(request: Request) -> Response:
        desk = await signed_in_admin(request)
        _sweep(folder)
        return page(request, desk)

    def too_large(request: Request) -> Response:
        locale = dash.locale(request)
        text = dash.translator(locale)("dash.imp.too_large", mb=MAX_UPLOAD // (1024 * 1024))
        return dash.page(request, "dash_error.html", {"error": text}, locale, 413)

    @router.post("/registry/import", response_class=HTMLResponse)
    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if DIGITS.fullmatch(declared) and int(declared) > MAX_UPLOAD:
            return too_large(request)
        desk = await signed_in_admin(request)
        try:
            return await receive(_capped(request, MAX_UPLOAD), desk)
        except UploadTooLarge:
            return too_large(request)

    async def receive(request: Request, desk: Desk) -> Response:
        """The upload (stopped by `UploadTooLarge` at MAX_UPLOAD bytes, however it is sent),
        kept under a random name, and its dry run."""
        async with request.form(max_files=1, max_fields=5) as fields:
            if not csrf_ok(runtime.vault, desk.token, str(fields.get("csrf") or "")):
                raise FormExpired()
            file = fields.get("file")
            suffix = (
                Path(file.filename or "").suffix.lower() if isinstance(file, UploadFile) else ""
            )
            if not isinstance(file, UploadFile) or suffix not in SUFFIXES:
                t = dash.translator(desk.locale)
                return page(request, desk, problem=t("dash.imp.bad_file"))
            folder.mkdir(parents=True, exist_ok=True)
            name = secrets.token_urlsafe(24) + suffix
            with (folder / name).open("wb") as out:
                while chunk := await file.read(1024 * 1024):
                    out.write(chunk)
        checked = await run(folder / name, desk, dry_run=True)
        if "problem" in checked:
            (folder / name).unlink(missing_ok=True)
        return page(request, desk, upload=name, filename=file.filename, **checked)

    @router.post("/registry/import/{action}", response_class=HTMLResponse)
    async def decide(request: Request, action: str) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, fields = await dash.posted(request, session, now)
            require_admin(desk)
        name = form_value(fields, "upload")
        path = folder / name
        if not UPLOAD_NAME.match(name) or not path.is_file():
            t = dash.translator(desk.locale)
            return page(request, desk, problem=t("dash.imp.gone"))
        if action != "confirm":
            path.unlink(missing_ok=True)
            return RedirectResponse("/registry/import", status_code=303)
        try:
            done = await run(path, desk, dry_run=False)
        finally:
            path.unlink(missing_ok=True)
        return page(request, desk, imported=True, **done)

    return router


class UploadTooLarge(Exception):
    """The request body went past the upload limit."""


def _capped(request: Request, limit: int) -> Request:
    """The same request, whose body stops with UploadTooLarge past `limit` bytes: the
    Content-Length header may be absent (chunked) or wrong."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise UploadTooLarge()
        return message

    return Request(request.scope, receive)


def _sweep(folder: Path) -> None:
    """Uploads never confirmed nor discarded go after a day."""
    if not folder.is_dir():
        return
    cutoff = time.time() - KEEP_SECONDS
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
