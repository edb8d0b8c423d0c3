"""What the console's three workbenches (review, appeals, audits) share: "next" claims and opens
the claimed item, "release" gives it back, and a decision opens the next item. Each workbench
adds its own home, item page and decision form (service/routes/console*.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from service.domain import Role
from service.errors import ServiceError
from service.keys import ApiKey
from service.routes.console import (
    ConsoleError,
    Csrf,
    check_csrf,
    claim_redirect,
    current_user,
    error_page,
    page,
)


@dataclass(frozen=True, slots=True)
class Workbench:
    path: str  # the workbench's page, e.g. /console/appeals
    role: Role
    work: Callable[[Request], Any]  # the LeasedWork use case of the request's app
    item_id: Callable[[Any], str]  # the claimed view's item id

    def claim_next(self, request: Request, user: ApiKey) -> Response:
        """Claim the next item and open it (or go back to the workbench saying why not)."""

        def claim() -> str | None:
            view = self.work(request).claim(user.actor, user.languages)
            return self.item_id(view) if view else None

        return claim_redirect(claim, self.path)

    def add_routes(self, router: APIRouter, prefix: str = "") -> None:
        """POST {prefix}/next and {prefix}/{item_id}/release on ``router``."""

        @router.post(f"{prefix}/next")
        def next_item(request: Request, csrf: Csrf) -> Response:
            try:
                check_csrf(request, csrf)
                user = current_user(request, self.role)
            except ConsoleError as exc:
                return error_page(request, exc)
            return self.claim_next(request, user)

        @router.post(f"{prefix}/{{item_id}}/release")
        def release(request: Request, item_id: str, csrf: Csrf) -> Response:
            try:
                check_csrf(request, csrf)
                user = current_user(request, self.role)
                self.work(request).release(item_id, user.actor)
            except ConsoleError as exc:
                return error_page(request, exc)
            except ServiceError as exc:
                return page(request, "message.html", 409, title="Not released", message=str(exc))
            return RedirectResponse(self.path, status_code=303)
