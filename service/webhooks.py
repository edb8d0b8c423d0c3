"""Signed webhooks to the upload pipeline: how they are enqueued, signed, sent and verified.

Each delivery is an RQ job on the ``effects`` queue (job id ``deliver-<event id>``), retried
with backoff; after the last try it waits in RQ's failed registry, and every reconcile (the
worker runs one every MIZAN_RECONCILE_INTERVAL_S) gives it one more try on the
``effects-retry`` queue, which the worker takes last: an outcome the pipeline must enforce is
never given up on while its receiver is down, and never delays newer ones. The request:

    POST <webhook_url>
    Content-Type: application/json
    Mizan-Event-Id: <event id>          (the same id in the body: deduplicate on it)
    Mizan-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes, compares it in
constant time, and refuses timestamps older than a few minutes (replays): `verify` does this.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence

import httpx
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

DELIVER = "service.jobs.deliver_webhook"  # enqueued by path: the API never imports the job
EFFECTS_QUEUE = "effects"
RETRY_QUEUE = "effects-retry"  # deliveries past their retries: one try per reconcile
SIGNATURE_HEADER = "Mizan-Signature"
EVENT_HEADER = "Mizan-Event-Id"
FAILED_KEPT_S = 30 * 86_400


class SignatureError(ValueError):
    pass


def body_bytes(payload: Mapping[str, object]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300) -> None:
    """Raise SignatureError unless ``header`` signs ``body`` with ``secret`` recently."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError) as exc:
        raise SignatureError("malformed signature header") from exc
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("signature timestamp outside the tolerance (a replay?)")
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match")


def send(
    client: httpx.Client, url: str, secret: str, payload: Mapping[str, object], now: float
) -> None:
    """POST one signed event; raises on a network error or a non-2xx answer."""
    body = body_bytes(payload)
    response = client.post(
        url,
        content=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(now), body),
            EVENT_HEADER: str(payload["event_id"]),
        },
    )
    response.raise_for_status()


def enqueue_delivery(
    redis: Redis, event_id: str, retry_intervals_s: Sequence[int], timeout_s: float
) -> bool:
    """Enqueue the delivery job of one outbox event, or give it one more try when its retries
    ran out; False if it is already queued, running or waiting for a retry."""
    retry = (
        Retry(max=len(retry_intervals_s), interval=list(retry_intervals_s))
        if retry_intervals_s
        else None
    )
    try:
        _enqueue(redis, EFFECTS_QUEUE, event_id, retry, timeout_s)
    except DuplicateJobError:
        return _one_more_try_if_failed(redis, event_id, timeout_s)
    return True


def _enqueue(
    redis: Redis, queue: str, event_id: str, retry: Retry | None, timeout_s: float
) -> None:
    Queue(queue, connection=redis).enqueue(
        DELIVER,
        event_id,
        job_id=f"deliver-{event_id}",
        unique=True,
        retry=retry,
        job_timeout=int(timeout_s) + 30,
        failure_ttl=FAILED_KEPT_S,
        description=f"webhook for event {event_id}",
    )


def _one_more_try_if_failed(redis: Redis, event_id: str, timeout_s: float) -> bool:
    """A delivery whose retries ran out gets one more try, on the retry queue: the worker takes
    it only when fresh deliveries and maintenance are done, so a long outage's backlog never
    delays new events. Taking the job out of the failed registry (ZREM) is the claim: of two
    reconciles at once, one requeues it."""
    job_id = f"deliver-{event_id}"
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:  # finished and expired meanwhile
        return False
    if job.get_status() != JobStatus.FAILED:
        return False
    registry = FailedJobRegistry(job.origin, connection=redis)
    if not redis.zrem(registry.key, job_id):
        return False  # another reconcile took it
    job.delete()
    try:
        _enqueue(redis, RETRY_QUEUE, event_id, None, timeout_s)
    except DuplicateJobError:  # enqueued afresh by another reconcile in between
        return False
    return True
