"""RFC 9457 problem+json for every error response, whatever raised it.

Our errors map to statuses here; FastAPI's validation errors and Starlette's HTTP errors (404
route, 405 method) get the same shape; anything else is a bland 500 whose cause goes to the log.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence

import psycopg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from classifier import ClassifierError, InvalidContentError
from service.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
    ServiceUnavailableError,
)

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

# error type -> (status, problem type slug, title)
_PROBLEMS: Mapping[type[Exception], tuple[int, str, str]] = {
    AuthenticationError: (401, "unauthenticated", "Missing or invalid API key"),
    PermissionDeniedError: (403, "forbidden", "The API key lacks the role this needs"),
    NotFoundError: (404, "not-found", "Not found"),
    ConflictError: (409, "conflict", "Conflicts with the current state"),
    InvalidRequestError: (422, "invalid-request", "Invalid request"),
    InvalidContentError: (422, "invalid-content", "Invalid content"),
    ServiceUnavailableError: (503, "unavailable", "Service unavailable"),
}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    errors: Sequence[Mapping[str, object]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return JSONResponse(
        body, status_code=status, media_type=MEDIA_TYPE, headers=dict(headers or {})
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    @app.exception_handler(ClassifierError)
    async def _ours(request: Request, exc: Exception) -> JSONResponse:
        for kind in type(exc).__mro__:
            if kind in _PROBLEMS:
                status, slug, title = _PROBLEMS[kind]
                errors = exc.errors if isinstance(exc, InvalidRequestError) else None
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                return problem(status, slug, title, str(exc), request.url.path, errors, headers)
        return await _unexpected(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/console"):  # a person at a browser, not a client
            return HTMLResponse(
                "<!doctype html><title>Form incomplete</title><p>Something was missing from "
                'that form. <a href="/console">Back to the console</a>.</p>',
                status_code=422,
            )
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            f"{len(errors)} problem(s) in the request",
            request.url.path,
            errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            400: "Bad request",
            404: "Not found",
            405: "Method not allowed",
            413: "Request too large",
            415: "Unsupported media type",
        }
        title = titles.get(exc.status_code, "HTTP error")
        slug = title.lower().replace(" ", "-")
        return problem(
            exc.status_code,
            slug,
            title,
            str(exc.detail),
            request.url.path,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(RedisError)
    async def _redis_down(request: Request, exc: RedisError) -> JSONResponse:
        # Only the review queue needs Redis to answer; scoring carries on without it.
        log.warning("redis.unavailable", extra={"path": request.url.path, "error": str(exc)})
        return problem(
            503,
            "unavailable",
            "Service unavailable",
            "the review queue (Redis) is not answering; retry shortly",
            request.url.path,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(sa.exc.TimeoutError)
    # a ProgrammingError is our bug, but for the one psycopg raises when the socket closes
    # during the pool's pre-ping (database_unavailable below): without this, a database that
    # went away was answered 500 instead of 503 now and then (test_database_down, on CI)
    @app.exception_handler(sa.exc.ProgrammingError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):  # a missing table, a bad query: our bug, a 500
            return await _unexpected(request, exc)
        # The server gone or restarting, the pool exhausted, SQLite busy past its timeout. The
        # driver's message may quote the statement's values (user text): log its type only.
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("database.unavailable", extra={"path": request.url.path, "error": cause})
        return problem(
            503,
            "unavailable",
            "Service unavailable",
            "the database is not answering; send the request again shortly (it is safe: a "
            "request that was written is answered as the first time)",
            request.url.path,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request.failed", exc_info=exc, extra={"path": request.url.path})
        return problem(
            500,
            "internal",
            "Internal error",
            "the request failed on our side; it has been logged",
            request.url.path,
        )


# SQLite says "not now" with these result codes; it raises OperationalError for "no such table"
# and syntax errors too, which are our bugs
_SQLITE_TRANSIENT = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
)


def database_unavailable(exc: Exception) -> bool:
    """Whether a database error is the server or file being unavailable (answer 503, retry)
    rather than a fault in our statements (answer 500, fix the code)."""
    if isinstance(exc, sa.exc.TimeoutError):  # no connection free in the pool
        return True
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    driver_error = getattr(exc, "orig", None)
    if isinstance(driver_error, sqlite3.Error):
        return str(getattr(driver_error, "sqlite_errorname", "")).startswith(_SQLITE_TRANSIENT)
    # psycopg raises OperationalError for connection, resource, shutdown and serialization
    # trouble only; a bad query is a ProgrammingError or DataError, which never gets here
    if isinstance(exc, sa.exc.OperationalError):
        return True
    # A socket that closes in the middle of the pool's pre-ping leaves psycopg's connection
    # "in a transaction", and restoring its autocommit flag then raises ProgrammingError over
    # the OperationalError that tells the truth: look at what it was raised while handling.
    return _lost_connection(driver_error)


def _lost_connection(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        error, seen = error.__context__ or error.__cause__, seen + 1
    return False
