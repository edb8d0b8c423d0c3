"""The FastAPI application: ``create_app(settings)`` builds everything once, at start-up.

    uvicorn --factory service.app:create_app      (or: mizan serve)

The lifespan opens the SQL engine (migrating the schema when auto_migrate is on) and the Redis
client, loads the model versions in force (service/model_registry.py: one ONNX session per
process and version, switched without a restart), and builds the use cases.
"""

from __future__ import annotations

import functools
import gc
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from service import metrics, openapi, problems, wiring
from service.coalescer import ScoringCoalescer
from service.domain import Decision
from service.keys import KeyStore
from service.middleware import BodyLimit, OnlyUnder, RequestMetrics
from service.model_registry import ModelRegistry
from service.moderation import Moderation
from service.routes import (
    appeals,
    audits,
    console,
    console_appeals,
    console_audits,
    console_creators,
    console_review,
    creators,
    health,
    models,
    reports,
    review,
    videos,
)
from service.score_fast_path import ScoreFastPath
from service.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        parts = wiring.build(settings, migrate_schema=settings.auto_migrate)
        registry = ModelRegistry(
            parts.engine,
            settings.models_dir,
            parts.policy,
            threads=settings.scorer_threads,
            refresh_s=settings.model_refresh_s,
        )
        registry.start()
        champion = registry.lineup().champion

        def count(decision: Decision) -> None:
            metrics.count_decision(
                decision.action.value, decision.label, decision.model_version, decision.scores
            )

        app.state.settings = settings
        app.state.parts = parts
        app.state.models = registry
        app.state.policy = parts.policy
        app.state.engine = parts.engine
        app.state.redis = parts.redis
        app.state.keys = KeyStore(parts.engine, settings.api_key_cache_s)
        app.state.decision_log = parts.decision_log
        app.state.review = parts.review
        app.state.appeals = parts.appeals
        app.state.audits = parts.audits
        app.state.moderation = Moderation(
            parts.decision_log,
            registry.lineup,
            parts.policy,
            clock=parts.clock,
            length_aware=settings.length_aware_thresholds,
            on_decision=count,
            dispatch=parts.dispatcher.apply,
        )
        coalescer = ScoringCoalescer(
            app.state.moderation.assess,
            app.state.moderation.record,
            max_videos=settings.coalesce_max_videos,
            max_chars=settings.coalesce_max_chars,
        )
        coalescer.start()
        app.state.coalescer = coalescer
        # What start-up built (libraries, models, tables: ~170,000 objects) lives about as
        # long as the process; left to the collector, every full collection walked all of it,
        # a 70 ms stop of this worker about every 8,000 title requests. Frozen, one takes
        # ~1.5 ms. (No collection first: in a test process that would walk the whole heap at
        # every app start; what start-up left as garbage is a one-off.)
        gc.freeze()
        log.info(
            "service.started",
            extra={
                "model_version": champion.version,
                "policy_version": parts.policy.version,
                "database": parts.engine.dialect.name,
            },
        )
        # Process-wide, like gc.freeze: set once everything is built (a failed start-up
        # leaves the process as it was), given back when the app stops. Apps in one process
        # (tests) must stop in the reverse order they started for the restore to be right.
        switch_interval_s = sys.getswitchinterval()
        sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
        try:
            yield
        finally:
            try:
                # off the event loop: the thread may still be deciding what was queued
                if not await anyio.to_thread.run_sync(coalescer.close):
                    log.warning(
                        "scoring.stop_timed_out", extra={"detail": "still deciding at exit"}
                    )
                registry.close()
                parts.close()
            finally:
                gc.unfreeze()  # collectable again (an app in a longer-lived process: tests)
                sys.setswitchinterval(switch_interval_s)

    app = FastAPI(
        title="Mizan moderation service",
        version="0.1.0",
        summary="Scores videos against the Community Guidelines, acts, and logs every decision.",
        lifespan=lifespan,
        # FastAPI's OpenTelemetry bridge asked for the global providers on every request (2.6%
        # of a worker's GIL samples under titles) to export to what nobody configured here:
        # /metrics and the JSON log lines are the service's telemetry
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    problems.install(app)
    openapi.install(app, settings)
    app.include_router(videos.router)
    app.include_router(review.router)
    app.include_router(appeals.router)
    app.include_router(audits.router)
    app.include_router(models.router)
    app.include_router(creators.router)
    app.include_router(reports.router)
    app.include_router(console.router)
    app.include_router(console_review.router)
    app.include_router(console_appeals.router)
    app.include_router(console_audits.router)
    app.include_router(console_creators.router)
    app.include_router(health.router)

    def limit_for(path: str) -> int:
        return (
            settings.max_batch_body_bytes
            if path.endswith("/score-batch")
            else settings.max_body_bytes
        )

    if not settings.console_secret.get_secret_value():
        log.warning(
            "console.secret_unset",
            extra={
                "detail": "console sessions last only as long as this process; set "
                "MIZAN_CONSOLE_SECRET when running several workers or replicas"
            },
        )
    # the console's cookie session, for /console only: the API authenticates by key
    app.add_middleware(
        OnlyUnder,
        prefix="/console",
        wrap=functools.partial(
            SessionMiddleware,
            secret_key=settings.console_secret.get_secret_value() or secrets.token_urlsafe(32),
            session_cookie="mizan_console",
            max_age=settings.console_session_s,
            same_site="lax",  # strict would drop the session on links from mail or chat
            https_only=settings.console_secure_cookie,
        ),
    )
    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_middleware(RequestMetrics)
    if settings.score_fast_path:  # outermost: what it answers skips the two above
        app.add_middleware(ScoreFastPath, limit_bytes=settings.max_body_bytes)  # BodyLimit's
    return app
