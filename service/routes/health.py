"""/healthz (alive), /readyz (model loaded, database and Redis answer), /metrics.

async: they must answer while the scoring thread and every request thread are busy (the
pool is small on purpose, see Settings.request_threads); their own work takes a millisecond
at most.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from service import metrics
from service.errors import ServiceUnavailableError

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready: model loaded, database and Redis answer")
async def readyz(request: Request) -> dict[str, object]:
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        checks["model"] = state.models.lineup().champion.version
    except AttributeError:
        checks["model"] = "missing"
    coalescer = getattr(state, "coalescer", None)
    checks["scoring"] = "ok" if coalescer is not None and coalescer.alive else "error: stopped"
    try:
        with state.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        state.redis.client.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # any client error means "not ready"
        checks["redis"] = f"error: {type(exc).__name__}"
    failing = [
        name for name, value in checks.items() if value in {"missing"} or value.startswith("error")
    ]
    if failing:
        raise ServiceUnavailableError(f"not ready: {', '.join(failing)} ({checks})")
    return {"status": "ready", "checks": checks}


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
