"""The officers' dashboard: server-rendered pages on the same services as the API.

Sign-in makes a server-side session (`OfficerAuth`); its cookie is HttpOnly, SameSite=Lax
and Secure under https, and renewed at every sign-in. Every state-changing form is a POST
carrying a CSRF token bound to the session; nothing changes on GET. Access is checked by
the services, per object: another village's report is "not found" (and the attempt is
audited). Domain exceptions become pages in one place (`install_dashboard`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import QueryParams

from bot.runtime import Runtime
from bot.services.media import MediaStore
from bot.services.officer_auth import (
    LoginFailed,
    LoginThrottled,
    OfficerAuth,
    csrf_ok,
    csrf_token,
)
from bot.services.reports import (
    KINDS,
    InvalidTransition,
    NotAllowed,
    ReasonRequired,
    ReportError,
    ReportFilter,
    ReportNotFound,
    ReportService,
    Viewer,
    is_overdue,
    viewer_for,
)
from bot.services.tickets import display_code, read_code
from bot.web.notices import LISTS, MAX_LISTED, SKIPPED, notice_url, read_notice
from bot.web.paths import MAX_ID, ObjectId, form_id
from storage.models import Officer, Village
from storage.types import utcnow

COOKIE = "bansos_officer"
LANG_COOKIE = "bansos_lang"
LOGIN_COOKIE = "bansos_login"
LOGIN_PREFIX = "login:"  # a sign-in form's token is bound to "login:" + its cookie
LOGIN_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
LOGIN_FORM_SECONDS = 12 * 3600
PROGRAMMES = ("PKH", "BPNT", "BLT", "PBI-JK", "PIP")
STATUSES = ("baru", "diverifikasi", "ditindaklanjuti", "selesai", "ditolak")
MAX_FORM = 64 * 1024
BULK_ACTIONS = ("assign_me", "assign", "status")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}


class SignInRequired(Exception):
    """No live session: the browser goes to the sign-in page."""


class FormExpired(Exception):
    """The CSRF token is missing or wrong."""


class EmptyText(Exception):
    """A reply or note with nothing in it."""


@dataclass(frozen=True, slots=True)
class Desk:
    """One signed-in request: who, what they may see, and how to speak to them."""

    officer: Officer
    viewer: Viewer
    token: str
    csrf: str
    locale: str


def require_admin(desk: Desk) -> None:
    """Admins only: anyone else is refused (403)."""
    if desk.viewer.role != "admin":
        raise NotAllowed("admins only")


def _form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body[:MAX_FORM].decode("utf-8", "replace"), keep_blank_values=True)


def form_value(form: Mapping[str, list[str]], name: str) -> str:
    """One field, trimmed; NUL characters (which no database column takes) removed."""
    values = form.get(name) or [""]
    return values[0].replace("\x00", "").strip()


class Dashboard:
    def __init__(self, runtime: Runtime, templates: Jinja2Templates) -> None:
        self.runtime = runtime
        self.templates = templates
        settings = runtime.settings
        self.media = MediaStore(settings.media_dir)
        self._auth_args = {
            "idle": timedelta(minutes=settings.dashboard_idle_minutes),
            "lifetime": timedelta(hours=settings.dashboard_session_hours),
        }

    @asynccontextmanager
    async def work(self) -> AsyncIterator[AsyncSession]:
        """A transaction in which a refusal by the services still commits what they
        recorded (the audit row of a denied look) before it becomes an error page."""
        refused: Exception | None = None
        async with self.runtime.db.transaction() as session:
            try:
                yield session
            except (ReportError, EmptyText) as error:
                refused = error
        if refused is not None:
            raise refused

    def auth(self, session: AsyncSession) -> OfficerAuth:
        return OfficerAuth(session, self.runtime.vault, **self._auth_args)

    def locale(self, request: Request) -> str:
        chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        return self.runtime.catalogs.normalize_locale(chosen)

    def translator(self, locale: str) -> Callable[..., str]:
        catalogs = self.runtime.catalogs

        def t(key: str, **params: Any) -> str:
            return catalogs.t(locale, key, params)

        return t

    def page(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        locale: str,
        status_code: int = 200,
    ) -> Response:
        zone = self.runtime.settings.zone
        response = self.templates.TemplateResponse(
            request,
            name,
            {
                "t": self.translator(locale),
                "locale": locale,
                "office": self.runtime.settings.office_name,
                "local": lambda moment: (
                    moment.astimezone(zone).strftime("%d-%m-%Y %H:%M") if moment else ""
                ),
                "code_of": display_code,
                **context,
            },
            status_code=status_code,
        )
        for header, value in SECURITY_HEADERS.items():
            response.headers[header] = value
        if request.query_params.get("lang"):
            response.set_cookie(LANG_COOKIE, locale, samesite="lax", httponly=True)
        return response

    @staticmethod
    async def officer_names(session: AsyncSession) -> dict[int, str]:
        return await _officer_names(session)

    def not_found(self, request: Request, desk: Desk) -> Response:
        """The 404 page, for an object this officer may not see or that does not exist."""
        text = self.translator(desk.locale)("dash.error.not_found")
        return self.page(request, "dash_error.html", {"error": text}, desk.locale, 404)

    async def desk(self, request: Request, session: AsyncSession, now: datetime) -> Desk:
        token = request.cookies.get(COOKIE, "")
        auth = self.auth(session)
        officer = await auth.officer_for_session(token, now) if token else None
        if officer is None or officer.id is None:
            raise SignInRequired()
        viewer = await viewer_for(session, officer.id)
        return Desk(officer, viewer, token, auth.csrf_token(token), self.locale(request))

    async def posted(
        self, request: Request, session: AsyncSession, now: datetime
    ) -> tuple[Desk, dict[str, list[str]]]:
        """The signed-in officer and the form of a POST whose CSRF token is right."""
        desk = await self.desk(request, session, now)
        form = _form(await request.body())
        if not self.auth(session).csrf_ok(desk.token, form_value(form, "csrf")):
            raise FormExpired()
        return desk, form


def dashboard_router(dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    runtime = dash.runtime

    def login_form(
        request: Request, locale: str, context: dict[str, Any], status: int = 200
    ) -> Response:
        """The sign-in page, its form bound to a sign-in cookie (login CSRF: another site
        cannot sign this browser in to an account of its choosing)."""
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not LOGIN_NONCE.fullmatch(nonce):
            nonce = secrets.token_urlsafe(32)
        context = {**context, "csrf": csrf_token(runtime.vault, LOGIN_PREFIX + nonce)}
        response = dash.page(request, "dash_login.html", context, locale, status)
        _set_private_cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_FORM_SECONDS)
        return response

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> Response:
        locale = dash.locale(request)
        ended = request.query_params.get("ended") == "1"
        return login_form(request, locale, {"ended": ended})

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        locale = dash.locale(request)
        form = _form(await request.body())
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not csrf_ok(runtime.vault, LOGIN_PREFIX + nonce, form_value(form, "csrf")):
            error = dash.translator(locale)("dash.error.csrf")
            return login_form(request, locale, {"error": error}, 403)
        ip = request.client.host if request.client else ""
        now = utcnow()
        error = ""
        token = ""
        async with dash.work() as session:
            try:
                token = await dash.auth(session).login(
                    form_value(form, "username"), form_value(form, "password"), ip, now
                )
                old = request.cookies.get(COOKIE)
                if old:
                    await dash.auth(session).logout(old, now)
            except LoginThrottled as throttled:
                zone = runtime.settings.zone
                when = throttled.retry_at.astimezone(zone).strftime("%H:%M")
                error = dash.translator(locale)("dash.login.throttled", time=when)
            except LoginFailed:
                error = dash.translator(locale)("dash.login.failed")
        if error:
            context = {"error": error, "username": form_value(form, "username")}
            return login_form(request, locale, context, 401)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(LOGIN_COOKIE)
        hours = runtime.settings.dashboard_session_hours
        _set_private_cookie(request, response, COOKIE, token, hours * 3600)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, _ = await dash.posted(request, session, now)
            await dash.auth(session).logout(desk.token, now)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.get("/", response_class=HTMLResponse)
    async def inbox(request: Request) -> Response:
        now = utcnow()
        query = request.query_params
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            filters = _inbox_filter(query, desk)
            service = ReportService(session, runtime.settings, runtime.catalogs)
            reports = await service.search(desk.viewer, filters, now)
            counts = await service.counts_by_status(desk.viewer)
            villages = await _villages(session, desk.viewer)
            village_names = await _village_names(session)
            names = await _officer_names(session)
            assignees = [o for o in await _active_officers(session) if o.role != "viewer"]
            message = await _inbox_notice(service, desk, query, dash.translator(desk.locale))
        context = {
            "desk": desk,
            "reports": reports,
            "counts": counts,
            "statuses": STATUSES,
            "kinds": KINDS,
            "programmes": PROGRAMMES,
            "villages": villages,
            "village_names": village_names,
            "names": names,
            "assignees": assignees,
            "query": query,
            "export": "/reports/export.csv?" + _filter_query(query),
            "overdue": {r.id for r in reports if is_overdue(r, now)},
            "message": message,
        }
        return dash.page(request, "dash_inbox.html", context, desk.locale)

    @router.post("/reports/bulk")
    async def bulk(request: Request) -> Response:
        now = utcnow()
        done = 0
        skipped: dict[str, list[int]] = {}
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            service = ReportService(session, runtime.settings, runtime.catalogs)
            action = form_value(form, "action")
            if action not in BULK_ACTIONS:
                return RedirectResponse(notice_url("/", "dash.bulk.unknown_action"), 303)
            assignee = (
                desk.officer.id if action == "assign_me" else form_id(form_value(form, "assignee"))
            )
            chosen = {n for n in map(form_id, form.get("report", [])[:200]) if n is not None}
            for report_id in sorted(chosen):
                why = await _bulk_one(service, desk, report_id, action, form, assignee, now)
                if why is None:
                    done += 1
                else:
                    skipped.setdefault(why, []).append(report_id)
        keys = ["dash.bulk.done", *(f"dash.bulk.skipped.{why}" for why in skipped)]
        lists = {f"skipped_{why}": ids for why, ids in skipped.items()}
        return RedirectResponse(notice_url("/", *keys, count=done, **lists), status_code=303)

    @router.get("/reports/export.csv")
    async def export_reports(request: Request) -> Response:
        """The inbox as CSV, with the inbox's filters; the service decides what this
        officer may see and audits the export."""
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            filters = _inbox_filter(request.query_params, desk)
            service = ReportService(session, runtime.settings, runtime.catalogs)
            text = await service.export_csv(desk.viewer, filters, now)
        day = now.astimezone(runtime.settings.zone).date().isoformat()
        headers = {
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="laporan-{day}.csv"',
            "Cache-Control": "private, no-store",
        }
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)

    @router.get("/reports/{report_id}", response_class=HTMLResponse)
    async def report_page(request: Request, report_id: ObjectId) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            service = ReportService(session, runtime.settings, runtime.catalogs)
            report = await service.get(desk.viewer, report_id, now)
            context = {
                "desk": desk,
                "report": report,
                "reporter": await service.reporter(desk.viewer, report, now),
                "timeline": await service.timeline(desk.viewer, report),
                "evidence": (
                    await service.evidence(desk.viewer, report, now)
                    if desk.viewer.role != "viewer"
                    else []
                ),
                "deliveries": await service.deliveries(report),
                "assignable": await service.assignable(report),
                "names": await _officer_names(session),
                "village": await session.get(Village, report.village_code or ""),
                "statuses": STATUSES,
                "overdue": is_overdue(report, now),
                "message": read_notice(request.query_params, dash.translator(desk.locale)),
            }
        return dash.page(request, "dash_report.html", context, desk.locale)

    @router.post("/reports/{report_id}/{action}")
    async def report_action(request: Request, report_id: ObjectId, action: str) -> Response:
        now = utcnow()
        async with dash.work() as session:
            desk, form = await dash.posted(request, session, now)
            service = ReportService(session, runtime.settings, runtime.catalogs)
            report = await service.get(desk.viewer, report_id, now)
            if action == "assign":
                chosen = form_value(form, "assignee")
                assignee = form_id(chosen)
                await service.assign(desk.viewer, report, assignee, now)
            elif action == "status":
                await service.change_status(
                    desk.viewer,
                    report,
                    form_value(form, "status"),
                    now,
                    form_value(form, "message"),
                )
            elif action == "merge":
                code = read_code(form_value(form, "into")) or ""
                target = await service.by_code(code)
                into = await service.get(desk.viewer, (target.id if target else None) or 0, now)
                await service.merge(desk.viewer, report, into, now)
            elif action in ("reply", "note"):
                text = form_value(form, "message")
                if not text:
                    raise EmptyText()
                if action == "reply":
                    await service.reply(desk.viewer, report, text, now)
                else:
                    await service.add_note(desk.viewer, report, text, now)
            else:
                raise ReportNotFound(report_id)
        return RedirectResponse(
            notice_url(f"/reports/{report_id}", "dash.report.saved"), status_code=303
        )

    @router.get("/reports/{report_id}/evidence/{sha256}")
    async def evidence_file(request: Request, report_id: ObjectId, sha256: str) -> Response:
        """A copy without metadata (EXIF, GPS); the look is audited by the service."""
        now = utcnow()
        async with dash.work() as session:
            desk = await dash.desk(request, session, now)
            service = ReportService(session, runtime.settings, runtime.catalogs)
            report = await service.get(desk.viewer, report_id, now)
            files = await service.evidence(desk.viewer, report, now)
        match = next((f for f in files if f.sha256 == sha256), None)
        if match is None or not dash.media.exists(sha256):
            raise ReportNotFound(report_id)
        content = dash.media.shareable(sha256, match.mime_type)
        headers = {
            "Content-Disposition": "inline",
            "Cache-Control": "private, no-store",
            **SECURITY_HEADERS,
        }
        return Response(content, media_type=match.mime_type, headers=headers)

    return router


async def _bulk_one(
    service: ReportService,
    desk: Desk,
    report_id: int,
    action: str,
    form: Mapping[str, list[str]],
    assignee: int | None,
    now: datetime,
) -> str | None:
    """One report of a bulk change; None when done, else why it was skipped (`SKIPPED`)."""
    try:
        report = await service.get(desk.viewer, report_id, now)
        if action == "status":
            await service.change_status(desk.viewer, report, form_value(form, "status"), now)
        else:
            await service.assign(desk.viewer, report, assignee, now)
    except InvalidTransition:
        return "transition"
    except ReasonRequired:
        return "reason"
    except ReportNotFound:
        return "not_found"
    except NotAllowed:
        if desk.viewer.role == "viewer":
            raise
        return "not_allowed"
    return None


INBOX_FILTERS = ("status", "kind", "village", "programme", "overdue", "mine", "unassigned")


def _inbox_filter(query: QueryParams, desk: Desk) -> ReportFilter:
    """The inbox's filters from its query (the page and its CSV export read the same)."""

    def chosen(name: str) -> str | None:
        return query.get(name, "").replace("\x00", "").strip()[:40] or None

    return ReportFilter(
        status=chosen("status"),
        kind=chosen("kind"),
        village_code=chosen("village"),
        programme=chosen("programme"),
        overdue=query.get("overdue") == "1",
        assignee_id=desk.officer.id if query.get("mine") == "1" else None,
        unassigned=query.get("unassigned") == "1",
    )


def _filter_query(query: QueryParams) -> str:
    """The inbox's filters as a query string (for its CSV link), nothing else."""
    return urlencode(
        [(name, value) for name, value in query.multi_items() if name in INBOX_FILTERS]
    )


async def _inbox_notice(
    service: ReportService, desk: Desk, query: QueryParams, t: Callable[..., str]
) -> str:
    """The inbox's notice after a change. The reports a bulk change skipped are named by
    their ticket codes, as officers know them; only codes of reports this officer may see
    are shown (a link cannot reveal others), the rest are counted."""
    plain = QueryParams([(name, value) for name, value in query.multi_items() if name not in LISTS])
    texts = [read_notice(plain, t)]
    asked = query.getlist("done")[:10]
    for why in SKIPPED:
        key = f"dash.bulk.skipped.{why}"
        ids = _listed_ids(query.get(f"skipped_{why}", ""))
        if key not in asked or not ids:
            continue
        codes = await service.codes_of(desk.viewer, ids)
        named = [display_code(codes[report_id]) for report_id in ids if report_id in codes]
        unnamed = len(ids) - len(named)
        if unnamed:
            named.append(
                t("dash.bulk.unnamed_more" if named else "dash.bulk.unnamed", count=unnamed)
            )
        texts.append(t(key, **{f"skipped_{why}": ", ".join(named)}))
    return " ".join(text for text in texts if text)


def _listed_ids(raw: str) -> list[int]:
    """A notice's comma-separated report ids, in order, without repeats; [] when the list
    is not one."""
    parts = raw.split(",")
    if len(parts) > MAX_LISTED or not all(part.isascii() and part.isdigit() for part in parts):
        return []
    numbers = (int(part) for part in parts if len(part) <= 10)
    return list(dict.fromkeys(n for n in numbers if 1 <= n <= MAX_ID))


async def _villages(session: AsyncSession, viewer: Viewer) -> list[Village]:
    statement = select(Village).order_by(col(Village.name))
    rows = list((await session.exec(statement)).all())
    if viewer.role == "officer":
        rows = [v for v in rows if v.code in viewer.villages]
    return rows


async def _active_officers(session: AsyncSession) -> list[Officer]:
    statement = select(Officer).where(Officer.active).order_by(col(Officer.display_name))
    return list((await session.exec(statement)).all())


async def _village_names(session: AsyncSession) -> dict[str, str]:
    return dict((await session.exec(select(Village.code, Village.name))).all())


async def _officer_names(session: AsyncSession) -> dict[int, str]:
    rows = (await session.exec(select(Officer.id, Officer.display_name))).all()
    return {officer_id: name for officer_id, name in rows if officer_id is not None}


def _set_private_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int
) -> None:
    """A cookie scripts cannot read, sent only from this site (and only over https when
    the dashboard is served so)."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )
