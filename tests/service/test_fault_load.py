"""bench/fault_load.py, shortened: a real server under steady load loses no acknowledged
decision, review item or webhook when an API worker is killed and Redis restarts empty.
(The 60-second runs and their figures are in BENCHMARKS.md and docs/reliability.md.)"""

from __future__ import annotations

import pytest

from bench.fault_load import run
from tests.service.conftest import BACKENDS


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_nothing_acknowledged_is_lost_to_a_killed_worker_and_an_emptied_redis(
    database_url: str,
) -> None:
    url = None if database_url.startswith("sqlite") else database_url
    outcome = run(seconds=20, rate=20, workers=3, database_url=url)
    assert outcome.killed_worker is not None
    assert outcome.redis_restarted
    assert outcome.acknowledged == outcome.sent == 400 + 40  # the steady load and the burst
    assert outcome.acknowledged_with_one_decision == outcome.acknowledged
    assert outcome.open_review_items > 0
    assert outcome.review_items_missing_from_queues == 0
    assert outcome.webhooks_in_outbox > 0
    assert outcome.webhooks_delivered == outcome.webhook_events_received
    assert outcome.webhook_events_received == outcome.webhooks_in_outbox
    assert outcome.webhook_redeliveries == 0  # each event was posted once
    assert outcome.passed
