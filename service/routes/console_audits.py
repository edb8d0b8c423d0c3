"""/console/audits: the audits workbench, with what the audits measure so far this quarter
(service/routes/console.py has the rest)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service.audit_report import audit_figures
from service.audits import Audits
from service.domain import AuditVerdict, Role
from service.errors import ServiceError
from service.report import parse_period
from service.report_html import audits_section
from service.routes.console import (
    ConsoleError,
    Csrf,
    check_csrf,
    current_user,
    error_page,
    page,
    this_quarter,
    transcript_text,
)
from service.routes.workbench import Workbench

router = APIRouter(prefix="/console/audits", include_in_schema=False)


@router.get("")
def audits_home(request: Request, state: str = "") -> Response:
    try:
        current_user(request, Role.MODERATOR)
    except ConsoleError as exc:
        return error_page(request, exc)
    messages = {
        "empty": "No audit waits for you.",
        "unavailable": "The queue is not answering just now; your last decision was saved.",
    }
    quarter = parse_period(this_quarter())
    figures = audit_figures(
        request.app.state.engine,
        dt.datetime.combine(quarter.start, dt.time(), dt.UTC),
        dt.datetime.combine(quarter.end, dt.time(), dt.UTC),
    )
    return page(
        request,
        "audits.html",
        title="Audits",
        message=messages.get(
            state, "A sample of the model's own removals and allows: was it right?"
        ),
        period=quarter.name,
        figures=audits_section(figures),
    )


@router.get("/{item_id}")
def audit_item(request: Request, item_id: str) -> Response:
    try:
        user = current_user(request, Role.MODERATOR)
        view = _audits(request).view(item_id)
    except ConsoleError as exc:
        return error_page(request, exc)
    except ServiceError:
        return page(request, "message.html", 404, title="Audits", message="No such audit.")
    if view.item.claimed_by != user.actor:
        return page(
            request, "message.html", 409, title="Audits", message="You do not hold this audit."
        )
    content = view.content
    return page(
        request,
        "audit.html",
        title="Audit",
        audit=view.item,
        video=view.video,
        decision=view.decision,
        content=content or {"title": "", "description": "", "hashtags": []},
        transcript=transcript_text(content),
        labels=sorted(request.app.state.policy.labels),
    )


@router.post("/{item_id}/decide")
def audit_decide(
    request: Request,
    item_id: str,
    csrf: Csrf,
    verdict: Annotated[str, Form()],
    label: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        check_csrf(request, csrf)
        user = current_user(request, Role.MODERATOR)
    except ConsoleError as exc:
        return error_page(request, exc)
    try:
        chosen = AuditVerdict(verdict)
        text = (note or "").strip()[:2000] or None
        named = (label or "").strip() or None
        if chosen is AuditVerdict.CONFIRM:
            named = None  # the form sends the select's value whatever the button
        _audits(request).decide(item_id, user.actor, chosen, named, text)
    except (ValueError, ServiceError) as exc:
        return page(request, "message.html", 409, title="Not decided", message=str(exc))
    return WORKBENCH.claim_next(request, user)


def _audits(request: Request) -> Audits:
    audits: Audits = request.app.state.audits
    return audits


WORKBENCH = Workbench("/console/audits", Role.MODERATOR, _audits, lambda view: view.item.item_id)
WORKBENCH.add_routes(router)
