"""`mizan worker`: the RQ worker for webhook deliveries and maintenance, and the periodic
lease sweep and reconcile (rq's CronScheduler, in a child process).

Queues, in the order the worker takes them: ``effects`` (webhooks), ``maintenance`` (sweep,
reconcile), ``effects-retry`` (webhooks past their retries). Never the review queues: people
take those (review_queue/jobs.py). rq's own scheduler runs in the worker, so the retries of a
failed delivery happen at their backoff times. Jobs run in the worker process (SimpleWorker),
each under its timeout; MIZAN_WORKER_FORK_PER_JOB gives rq's forked work horse per job.
"""

from __future__ import annotations

import logging
import multiprocessing

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.cron import CronScheduler

from service import jobs
from service.settings import Settings
from service.webhooks import EFFECTS_QUEUE, RETRY_QUEUE

MAINTENANCE_QUEUE = "maintenance"
# in priority order: rq takes from the first non-empty queue
QUEUES = (EFFECTS_QUEUE, MAINTENANCE_QUEUE, RETRY_QUEUE)

log = logging.getLogger(__name__)


def _run_cron(redis_url: str, sweep_interval_s: int, reconcile_interval_s: int) -> None:
    scheduler = CronScheduler(connection=Redis.from_url(redis_url), name="mizan-cron")
    scheduler.register(jobs.sweep_leases, MAINTENANCE_QUEUE, interval=sweep_interval_s)
    scheduler.register(jobs.reconcile, MAINTENANCE_QUEUE, interval=reconcile_interval_s)
    scheduler.start()  # type: ignore[no-untyped-call]


def run(settings: Settings, *, burst: bool = False, cron: bool = True) -> None:
    """Work the effects and maintenance queues until stopped (or, with burst, until empty)."""
    if not settings.redis_url:
        raise ValueError("the worker needs the API's Redis: set MIZAN_REDIS_URL")
    jobs.use_settings(settings)  # read by the jobs, here or in each forked work horse
    scheduler = None
    if cron and not burst:
        scheduler = multiprocessing.get_context("fork").Process(
            target=_run_cron,
            args=(settings.redis_url, settings.sweep_interval_s, settings.reconcile_interval_s),
            name="mizan-cron",
            daemon=True,
        )
        scheduler.start()
    redis = Redis.from_url(settings.redis_url)
    worker_class = Worker if settings.worker_fork_per_job else SimpleWorker
    worker = worker_class(
        [Queue(name, connection=redis) for name in QUEUES],
        connection=redis,
        maintenance_interval=settings.worker_maintenance_interval_s,
    )
    log.info("worker.started", extra={"queues": list(QUEUES), "cron": scheduler is not None})
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        if scheduler is not None and scheduler.is_alive():
            scheduler.terminate()
            scheduler.join(10)
        redis.close()
