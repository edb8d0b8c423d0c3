"""Endpoint roles: a FastAPI dependency per set of roles (DESIGN.md section 9)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from service.domain import Role
from service.errors import AuthenticationError, PermissionDeniedError
from service.keys import ApiKey, KeyStore


def bearer_token(header: str) -> str:
    """The key in an Authorization header's value ("Bearer <key>"), or AuthenticationError."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("send the API key as 'Authorization: Bearer <key>'")
    return token.strip()


def _bearer(request: Request) -> str:
    return bearer_token(request.headers.get("authorization", ""))


def require(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, ApiKey]]:
    """A dependency that authenticates the caller and checks it has one of ``roles``."""
    allowed = frozenset(roles)

    # async: it runs on the event loop instead of taking a threadpool slot and two thread
    # hand-offs per request; a cache hit costs microseconds, a miss one indexed read
    async def dependency(request: Request) -> ApiKey:
        keys: KeyStore = request.app.state.keys
        key = keys.authenticate(_bearer(request))
        if not key.roles & allowed:
            needed = " or ".join(sorted(role.value for role in allowed))
            raise PermissionDeniedError(f"this needs the role {needed}")
        request.state.api_key = key
        return key

    dependency.required_roles = allowed  # type: ignore[attr-defined]  # read by the role matrix
    return dependency


Uploader = Annotated[ApiKey, Depends(require(Role.UPLOADER))]
VideoReader = Annotated[ApiKey, Depends(require(Role.UPLOADER, Role.MODERATOR, Role.ANALYST))]
Moderator = Annotated[ApiKey, Depends(require(Role.MODERATOR))]
AppealsReviewer = Annotated[ApiKey, Depends(require(Role.APPEALS_REVIEWER))]
Analyst = Annotated[ApiKey, Depends(require(Role.ANALYST))]
Admin = Annotated[ApiKey, Depends(require(Role.ADMIN))]
CreatorReader = Annotated[ApiKey, Depends(require(Role.UPLOADER, Role.MODERATOR))]
