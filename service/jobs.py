"""The RQ job functions that need the decision log: webhook delivery, the lease sweep and
reconcile. The API enqueues them by path (service.webhooks.DELIVER); `mizan worker` runs them.

Resources are built lazily, in the process that runs the job, and kept for the next one:
`mizan worker` runs jobs in its own process by default; with MIZAN_WORKER_FORK_PER_JOB each
forked work horse builds its own (an engine or client made before a fork would share sockets).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import httpx

from service import wiring
from service.settings import Settings, get_settings
from service.webhooks import send

_settings: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Settings for jobs run in this process (tests, `mizan worker`); default: environment."""
    global _settings
    _settings = settings
    close()


@dataclass(frozen=True)
class _Context:
    parts: wiring.Parts  # the log, the queues, the settings
    http: httpx.Client


@functools.cache
def _context() -> _Context:
    settings = _settings or get_settings()
    return _Context(wiring.build(settings), httpx.Client(timeout=settings.webhook_timeout_s))


def close() -> None:
    if _context.cache_info().currsize:
        context = _context()
        context.http.close()
        context.parts.close()
    _context.cache_clear()


def deliver_webhook(event_id: str) -> str:
    """Send one outbox event; raise (so rq retries) until the receiver answers 2xx."""
    context = _context()
    parts, settings = context.parts, context.parts.settings
    delivery = parts.outbox.get(event_id)
    if delivery is None:
        return "unknown event"  # nothing to send, and retrying will not change that
    if delivery.delivered_at is not None:
        return "already delivered"
    if not settings.webhook_url:
        raise RuntimeError("no webhook URL configured (MIZAN_WEBHOOK_URL)")
    secret = settings.webhook_secret.get_secret_value()
    try:
        send(context.http, settings.webhook_url, secret, delivery.payload, time.time())
    except httpx.HTTPError as exc:
        parts.outbox.record_attempt(event_id, f"{type(exc).__name__}: {exc}", parts.clock())
        raise
    parts.outbox.record_attempt(event_id, None, parts.clock())
    return "delivered"


def sweep_leases() -> int:
    return _context().parts.sweep()


def reconcile() -> dict[str, int]:
    return _context().parts.reconcile()
