"""Builds the service's parts from settings, once per process: the SQL engine, Redis, the
logs, the review queues and the use cases. The API's lifespan, the RQ jobs and the CLI all
assemble the same graph here, so they cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from review_queue import ReviewQueues
from service.appeal_log import AppealLog
from service.appeals import Appeals
from service.audit_log import AuditLog
from service.audits import Audits
from service.creators import Creators, Enforcement
from service.database import create_engine, migrate
from service.decision_log import DecisionLog
from service.dispatch import APPEALS, AUDIT, REVIEW, Dispatcher
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
    appeal_log: AppealLog
    appeal_queues: ReviewQueues
    appeals: Appeals
    audit_log: AuditLog
    audit_queues: ReviewQueues
    audits: Audits
    creators: Creators

    def sweep(self) -> int:
        """Return every expired lease, review and appeal, to its queue."""
        return self.review.sweep() + self.appeals.sweep() + self.audits.sweep()

    def reconcile(self) -> dict[str, int]:
        review = self.review.reconcile()
        appeals = self.appeals.reconcile()
        audits = self.audits.reconcile()
        return {
            **asdict(review),
            "appeals_open": appeals.open_items,
            "appeals_restored": appeals.restored,
            "appeals_finished": appeals.finished,
            "audits_open": audits.open_items,
            "audits_restored": audits.restored,
            "audits_finished": audits.finished,
        }

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
    appeal_window = dt.timedelta(days=settings.appeal_window_days)
    enforcement = Enforcement(
        policy.catalogue, policy.strikes, appeal_window=appeal_window, webhooks=webhooks
    )
    decision_log = DecisionLog(
        engine,
        review_languages=settings.review_languages,
        webhooks=webhooks,
        audit_share=settings.audit_share,
        enforcement=enforcement,
    )
    review_log = ReviewLog(engine, webhooks=webhooks, enforcement=enforcement)
    outbox = Outbox(engine)
    queues = ReviewQueues(redis.client, REVIEW)
    appeal_queues = ReviewQueues(redis.client, APPEALS)
    audit_queues = ReviewQueues(redis.client, AUDIT)
    dispatcher = Dispatcher(
        redis.client,
        {REVIEW: queues, APPEALS: appeal_queues, AUDIT: audit_queues},
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
    appeal_log = AppealLog(
        engine,
        languages=settings.review_languages,
        window=appeal_window,
        webhooks=webhooks,
        enforcement=enforcement,
    )
    appeals = Appeals(
        decision_log,
        appeal_log,
        review_log,
        appeal_queues,
        dispatcher,
        clock=clock,
        languages=settings.review_languages,
        lease_s=settings.review_lease_s,
    )
    audit_log = AuditLog(engine, webhooks=webhooks, enforcement=enforcement)
    audits = Audits(
        decision_log,
        audit_log,
        review_log,
        audit_queues,
        dispatcher,
        clock=clock,
        labels=list(policy.labels),
        languages=settings.review_languages,
        lease_s=settings.review_lease_s,
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
        appeal_log=appeal_log,
        appeal_queues=appeal_queues,
        appeals=appeals,
        audit_log=audit_log,
        audit_queues=audit_queues,
        audits=audits,
        creators=Creators(engine, clock, policy.strikes),
    )
