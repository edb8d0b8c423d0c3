"""/console: the moderators' and analysts' web console, server-rendered (Jinja2), same app.

Sign-in takes an API key once; the session cookie (signed, HTTP-only, SameSite=strict, Secure
unless MIZAN_CONSOLE_INSECURE_COOKIE for local http) carries the key's id and digest, never the
key. Every form carries the session's CSRF token, and a POST without the right one is refused.
Pages show only what the signed-in key's roles allow. Not part of the OpenAPI schema: the
console is a client of the same use cases as the API.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from classifier import Video
from review_queue import QueueStats
from service.domain import Role
from service.errors import AuthenticationError, ServiceError
from service.keys import ApiKey, KeyStore
from service.report import enforcement_report, parse_period
from service.report_html import body as report_body
from service.review import Review

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
Csrf = Annotated[str, Form()]


class ConsoleError(Exception):
    """An answer the console shows as a page (status, title, message)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def _csrf(request: Request) -> str:
    token: str | None = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, presented: str) -> None:
    expected = request.session.get("csrf", "")
    if not expected or not hmac.compare_digest(str(expected), presented):
        raise ConsoleError(403, "Refused", "This form did not come from your console session.")


def current_user(request: Request, *roles: Role) -> ApiKey:
    key_id, digest = request.session.get("key_id"), request.session.get("digest")
    if not key_id or not digest:
        raise ConsoleError(401, "Sign in", "Please sign in with your API key.")
    keys: KeyStore = request.app.state.keys
    try:
        key = keys.authenticate_session(str(key_id), str(digest))
    except AuthenticationError as exc:
        request.session.clear()
        raise ConsoleError(401, "Sign in", "Your key is no longer valid.") from exc
    if roles and not key.roles & set(roles):
        needed = " or ".join(role.value for role in roles)
        raise ConsoleError(403, "Not for you", f"This page needs the role {needed}.")
    return key


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    user = None
    if request.session.get("key_id"):
        user = {"name": request.session.get("name"), "roles": request.session.get("roles", [])}
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf": _csrf(request), **context},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def error_page(request: Request, exc: ConsoleError) -> Response:
    if exc.status == 401:
        return RedirectResponse("/console/login", status_code=303)
    return page(request, "message.html", exc.status, title=exc.title, message=exc.message)


def _review(request: Request) -> Review:
    review: Review = request.app.state.review
    return review


# signing in and out ------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    return page(request, "login.html", title="Sign in")


@router.post("/login")
def login(request: Request, key: Annotated[str, Form()], csrf: Csrf) -> Response:
    try:
        check_csrf(request, csrf)
    except ConsoleError:  # a stale form (its session expired) or no cookie: a fresh form
        request.session.clear()
        error = "That sign-in form had expired (or cookies are off). Please try again."
        return page(request, "login.html", 403, title="Sign in", error=error)
    keys: KeyStore = request.app.state.keys
    try:
        api_key, digest = keys.session_token(key.strip())
    except AuthenticationError:
        return page(request, "login.html", 401, title="Sign in", error="That key is not valid.")
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session.update(
        key_id=api_key.key_id,
        digest=digest,
        name=api_key.name,
        roles=sorted(role.value for role in api_key.roles),
    )
    return RedirectResponse("/console", status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Csrf) -> Response:
    try:
        check_csrf(request, csrf)
    except ConsoleError as exc:
        if request.session.get("key_id"):  # a live session and a forged form: refuse
            return error_page(request, exc)
        # an expired session has nothing left to protect: just sign out
    request.session.clear()
    return RedirectResponse("/console/login", status_code=303)


# queues ------------------------------------------------------------------------------------


def _sections(request: Request, user: ApiKey) -> list[dict[str, object]]:
    target_s = request.app.state.settings.review_target_s
    now = dt.datetime.now(dt.UTC).timestamp()

    def rows(stats: Sequence[QueueStats]) -> list[dict[str, object]]:
        return [
            {
                "queue": s.queue,
                "language": s.language,
                "priority": s.priority,
                "waiting": s.waiting,
                "leased": s.leased,
                "age": _age(now - s.oldest_since) if s.oldest_since is not None else "",
                "past_target": s.past_target,
            }
            for s in sorted(stats, key=lambda s: (s.priority != "high", s.queue))
        ]

    sections: list[dict[str, object]] = []
    if Role.MODERATOR in user.roles:
        sections.append({"name": "Review", "queues": rows(_review(request).stats(target_s))})
        audits = request.app.state.audits.stats(target_s)
        sections.append({"name": "Audits", "queues": rows(audits)})
    if Role.APPEALS_REVIEWER in user.roles:
        appeals = request.app.state.appeals.stats(target_s)
        sections.append({"name": "Appeals", "queues": rows(appeals)})
    return sections


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


@router.get("")
def overview(request: Request) -> Response:
    try:
        user = current_user(request, Role.MODERATOR, Role.APPEALS_REVIEWER, Role.ANALYST)
    except ConsoleError as exc:
        return error_page(request, exc)
    if not user.roles & {Role.MODERATOR, Role.APPEALS_REVIEWER}:
        return RedirectResponse("/console/report", status_code=303)
    return page(request, "queues.html", title="Queues", sections=_sections(request, user))


@router.get("/queues/table")
def queues_table(request: Request) -> Response:
    try:
        user = current_user(request, Role.MODERATOR, Role.APPEALS_REVIEWER)
    except ConsoleError as exc:
        return Response(status_code=exc.status)
    return page(request, "queues_table.html", sections=_sections(request, user))


# shared by the workbenches (service/routes/workbench.py) --------------------------------


def claim_redirect(claim: Callable[[], str | None], workbench: str) -> Response:
    """Claim and redirect to the claimed item's page (or back to the workbench with why not):
    POST, redirect, GET, so a reload never sends a decision twice."""
    try:
        item_id = claim()
    except Exception:  # the decision before this stands; the queue is not answering
        log.warning("console.claim_failed", exc_info=True, extra={"workbench": workbench})
        return RedirectResponse(f"{workbench}?state=unavailable", status_code=303)
    if item_id is None:
        return RedirectResponse(f"{workbench}?state=empty", status_code=303)
    return RedirectResponse(f"{workbench}/{item_id}", status_code=303)


# the report --------------------------------------------------------------------------------


def _report(request: Request, period: str, region: str | None) -> Any:
    return enforcement_report(request.app.state.engine, parse_period(period), region or None)


@router.get("/report")
def report_page(request: Request, period: str = "", region: str = "") -> Response:
    try:
        current_user(request, Role.ANALYST)
        chosen = period or this_quarter()
        report = _report(request, chosen, region)
    except ConsoleError as exc:
        return error_page(request, exc)
    except ServiceError as exc:
        return page(request, "message.html", 422, title="Report", message=str(exc))
    return page(
        request,
        "report.html",
        title="Report",
        period=chosen,
        region=region,
        body=report_body(report),
    )


@router.get("/report.csv")
def report_csv(request: Request, period: str = "", region: str = "") -> Response:
    try:
        current_user(request, Role.ANALYST)
        report = _report(request, period or this_quarter(), region)
    except ConsoleError as exc:
        return error_page(request, exc)
    except ServiceError as exc:
        return page(request, "message.html", 422, title="Report", message=str(exc))
    return Response(
        report.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="enforcement.csv"'},
    )


def transcript_text(content: Video | None) -> str:
    """A video's transcript as one text (segments joined), for pages that do not time it."""
    if content is None:
        return ""
    transcript = content.transcript
    return transcript if isinstance(transcript, str) else " ".join(s.text for s in transcript)


def this_quarter() -> str:
    today = dt.datetime.now(dt.UTC).date()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"
