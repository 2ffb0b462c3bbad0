"""All dashboard screens on one app, and the one place their exceptions become pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from bot.runtime import Runtime
from bot.services.reports import InvalidTransition, NotAllowed, ReasonRequired, ReportNotFound
from bot.web.api import validation_problem
from bot.web.audit import audit_router
from bot.web.broadcasts import broadcasts_router
from bot.web.conversations import conversations_router
from bot.web.dashboard import (
    Dashboard,
    EmptyText,
    FormExpired,
    SignInRequired,
    dashboard_router,
)
from bot.web.monitoring import monitoring_router
from bot.web.office_settings import office_settings_router
from bot.web.officers import officers_router
from bot.web.registry import registry_router
from bot.web.registry_import import registry_import_router
from bot.web.schedules import schedules_router
from bot.web.trainings import trainings_router


def install_dashboard(app: FastAPI, runtime: Runtime, templates: Jinja2Templates) -> None:
    """The dashboard's routes and the one place its exceptions become pages."""
    dash = Dashboard(runtime, templates)
    app.include_router(dashboard_router(dash))
    app.include_router(conversations_router(dash))
    app.include_router(trainings_router(dash))
    app.include_router(schedules_router(dash))
    app.include_router(broadcasts_router(dash))
    app.include_router(registry_import_router(dash))
    app.include_router(registry_router(dash))
    app.include_router(monitoring_router(dash))
    app.include_router(officers_router(dash))
    app.include_router(office_settings_router(dash))
    app.include_router(audit_router(dash))

    def error_page(request: Request, key: str, status: int, **params: Any) -> Response:
        locale = dash.locale(request)
        text = dash.translator(locale)(key, **params)
        return dash.page(request, "dash_error.html", {"error": text}, locale, status)

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _: SignInRequired) -> Response:
        if request.method == "GET":
            return RedirectResponse("/login", status_code=303)
        return error_page(request, "dash.login.ended", 401)

    @app.exception_handler(FormExpired)
    async def expired(request: Request, _: FormExpired) -> Response:
        return error_page(request, "dash.error.csrf", 403)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        # A page's id that is not a number, or no id a table can hold (`bot.web.paths`).
        if any(tuple(problem["loc"][:1]) == ("path",) for problem in error.errors()):
            return error_page(request, "dash.error.page_not_found", 404)
        return validation_problem(error)

    @app.exception_handler(ReportNotFound)
    async def not_found(request: Request, _: ReportNotFound) -> Response:
        return error_page(request, "dash.error.not_found", 404)

    @app.exception_handler(NotAllowed)
    async def forbidden(request: Request, _: NotAllowed) -> Response:
        return error_page(request, "dash.error.forbidden", 403)

    @app.exception_handler(InvalidTransition)
    async def transition(request: Request, error: InvalidTransition) -> Response:
        if error.wanted == "merged":  # into itself, or into a report merged elsewhere
            return error_page(request, "dash.error.merge", 409)
        return error_page(
            request, "dash.error.transition", 409, current=error.current, wanted=error.wanted
        )

    @app.exception_handler(ReasonRequired)
    async def reason(request: Request, _: ReasonRequired) -> Response:
        return error_page(request, "dash.error.reason", 422)

    @app.exception_handler(EmptyText)
    async def empty(request: Request, _: EmptyText) -> Response:
        return error_page(request, "dash.error.empty", 422)
