"""The served OpenAPI document, made to tell the whole truth about the API.

FastAPI's generated document knows the pydantic shapes only. This adds what clients (and
schemathesis, tests/service/test_schemathesis.py) must know as well:

- every problem an operation can answer, as ``application/problem+json`` with the Problem
  schema: 401 and 403 where a role is needed, 400/413/422 where there is a body, 404 where a
  path names something, 409 where a route declares a conflict, 503 everywhere (the database or
  Redis not answering);
- the bearer-key security of each protected operation;
- the limits in force (service.settings, so an operator's change shows here too): text
  lengths, hashtag, segment and batch counts, the ISO 3166 regions, no NUL characters.

Rules the schema language cannot say (a segment's end before its start, a video with no text
at all, the same video twice in a batch, a removal without its label) are 422 problems, in the
README's table of limits.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from service.regions import ISO_3166_ALPHA2
from service.settings import Settings

PROBLEM_MEDIA_TYPE = "application/problem+json"
NO_NUL = "^[^\\u0000]*$"  # PostgreSQL cannot store NUL; service.limits refuses it
SECURITY_SCHEME = "apiKey"

_DESCRIPTIONS = {
    400: "the body is not JSON, or not UTF-8",
    401: "no API key, or an unknown or revoked one",
    403: "the key lacks the role this operation needs",
    404: "no such video, item, appeal or path",
    409: "the request contradicts the current state",
    413: "the body is larger than the limit",
    422: "a value the schema or the domain refuses",
    503: "the database or Redis is not answering; retry after Retry-After seconds",
}


def install(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _document_problems(document, app)
            _document_limits(document["components"]["schemas"], settings)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _roles_by_operation(app: FastAPI) -> dict[tuple[str, str], frozenset[str]]:
    """(method, path) -> the roles its dependencies require (service.auth.require marks them).
    iter_route_contexts walks included routers with their prefixes, as get_openapi does."""
    found: dict[tuple[str, str], frozenset[str]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format is None:
            continue
        roles: set[str] = set()
        pending = list(route.dependant.dependencies)
        while pending:
            dependency = pending.pop()
            roles |= {role.value for role in getattr(dependency.call, "required_roles", ())}
            pending.extend(dependency.dependencies)
        for method in route.methods or ():
            found[(method.lower(), context.path_format)] = frozenset(roles)
    return found


def _document_problems(document: dict[str, Any], app: FastAPI) -> None:
    components = document["components"]
    components["schemas"]["Problem"] = _problem_schema()
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "an API key (mz_...), made by `mizan keys create`",
        }
    }
    for schema in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(schema, None)  # 422 answers are problems, not FastAPI's shape
    roles_of = _roles_by_operation(app)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = {503}
            roles = roles_of[(method, path)]
            if roles:
                statuses |= {401, 403}
                operation["security"] = [{SECURITY_SCHEME: []}]
                roles_line = f"Roles: {', '.join(sorted(roles))}."
                operation["description"] = f"{operation.get('description', '')}\n\n{roles_line}"
            if "requestBody" in operation:
                statuses |= {400, 413, 422}
            where = {parameter["in"] for parameter in operation.get("parameters", [])}
            if "path" in where:
                statuses |= {404, 422}
            if "query" in where:
                statuses.add(422)
            responses = operation.setdefault("responses", {})
            statuses |= {int(code) for code in responses if int(code) >= 400}
            for status in sorted(statuses):
                entry = responses.setdefault(str(status), {})
                entry.setdefault(
                    "description", _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
                )
                entry["content"] = {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                }


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "errors": {"anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "null"}]},
        },
    }


def _text(limit: int) -> dict[str, Any]:
    return {"maxLength": limit, "pattern": NO_NUL}


def _document_limits(schemas: dict[str, Any], settings: Settings) -> None:
    video = schemas["VideoIn"]["properties"]
    for name in ("video_id", "creator_id"):
        video[name]["maxLength"] = min(video[name].get("maxLength", 255), settings.max_id_chars)
    video["region"].pop("pattern", None)
    video["region"]["enum"] = sorted(ISO_3166_ALPHA2)
    video["title"].update(_text(settings.max_title_chars))
    video["description"].update(_text(settings.max_description_chars))
    video["hashtags"]["maxItems"] = settings.max_hashtags
    video["hashtags"]["items"].update(_text(settings.max_hashtag_chars))
    plain, segments = video["transcript"]["anyOf"]
    plain.update(_text(settings.max_transcript_chars))
    segments["maxItems"] = settings.max_transcript_segments
    schemas["SegmentIn"]["properties"]["text"].update(_text(settings.max_transcript_chars))
    schemas["BatchIn"]["properties"]["videos"]["maxItems"] = settings.max_batch_videos
    schemas["ReportIn"]["properties"]["reason"].update(_text(settings.max_report_reason_chars))
    schemas["AppealIn"]["properties"]["statement"].update(_text(settings.max_statement_chars))
    for name in ("ReviewDecisionIn", "AppealDecisionIn"):
        note = schemas[name]["properties"]["note"]["anyOf"][0]
        note.update(_text(settings.max_note_chars))


def conflict(when: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` entry for its 409 (install() adds the problem body)."""
    return {409: {"description": f"conflict: {when}"}}
