"""Builds the service's parts from settings, once per process: the SQL engine, Redis, the
logs, the review queues and the use cases. The API's lifespan, the RQ jobs and the CLI all
assemble the same graph here, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from review_queue import ReviewQueues
from service.database import create_engine, migrate
from service.decision_log import DecisionLog
from service.dispatch import Dispatcher
from service.moderation import Clock, system_clock
from service.outbox import Outbox
from service.policy import Policy
from service.redis_conn import RedisHandle, connect
from service.review import Review
from service.review_log import ReviewLog
from service.settings import Settings


@dataclass
class Parts:
    settings: Settings
    clock: Clock
    policy: Policy
    engine: sa.Engine
    redis: RedisHandle
    decision_log: DecisionLog
    review_log: ReviewLog
    outbox: Outbox
    queues: ReviewQueues
    dispatcher: Dispatcher
    review: Review

    def close(self) -> None:
        self.redis.close()
        self.engine.dispose()


def build(
    settings: Settings, *, clock: Clock = system_clock, migrate_schema: bool = False
) -> Parts:
    policy = Policy.load(settings.policy_file)
    engine = create_engine(settings.effective_database_url())
    if migrate_schema:
        migrate(engine)
    redis = connect(settings.redis_url, settings.state_dir)
    webhooks = settings.webhooks_enabled
    decision_log = DecisionLog(
        engine, review_languages=settings.review_languages, webhooks=webhooks
    )
    review_log = ReviewLog(engine, webhooks=webhooks)
    outbox = Outbox(engine)
    queues = ReviewQueues(redis.client, "review")
    dispatcher = Dispatcher(
        redis.client,
        queues,
        retry_intervals_s=settings.webhook_retry_intervals_s,
        webhook_timeout_s=settings.webhook_timeout_s,
    )
    review = Review(
        decision_log,
        review_log,
        outbox,
        queues,
        dispatcher,
        clock=clock,
        labels=list(policy.labels),
        languages=settings.review_languages,
        lease_s=settings.review_lease_s,
        webhooks=webhooks,
    )
    return Parts(
        settings=settings,
        clock=clock,
        policy=policy,
        engine=engine,
        redis=redis,
        decision_log=decision_log,
        review_log=review_log,
        outbox=outbox,
        queues=queues,
        dispatcher=dispatcher,
        review=review,
    )
