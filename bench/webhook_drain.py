"""How fast one `mizan worker` delivers webhooks: a backlog of automated removals, each with its
webhook job, drained to a local receiver that checks signatures, with and without a forked work
horse per job.

    .venv/bin/python bench/webhook_drain.py [--events 300] [--database-url URL]

The backlog is made in-process (real scoring, real log, jobs on the worker's Redis: a
redis-server of the script's own); then `mizan worker --burst --no-cron` runs until the queue
is empty, timed from its start to its exit, once with MIZAN_WORKER_FORK_PER_JOB=true and once
with false. Prints deliveries per second for each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' receiver and videos, when run as a script
from bench.fault_load import sandbox  # noqa: E402
from service import wiring  # noqa: E402
from service.model_registry import fixed_lineup  # noqa: E402
from service.models import load_active  # noqa: E402
from service.moderation import Moderation  # noqa: E402
from service.settings import PROJECT_ROOT, Settings  # noqa: E402
from tests.service.conftest import SPAM, upload  # noqa: E402
from tests.service.receiver import SECRET  # noqa: E402
from tests.service.served import CLI  # noqa: E402


def drain(events: int, database_url: str | None, fork: bool) -> float:
    with sandbox("mizan-drain-", database_url) as (folder, url, redis, receiver):
        settings = Settings(
            state_dir=folder / "state",
            database_url=url,
            redis_url=redis.url,
            webhook_url=receiver.url,
            webhook_secret=SECRET,
        )
        parts = wiring.build(settings, migrate_schema=True)
        try:
            scorer = load_active(PROJECT_ROOT / "models")
            moderation = Moderation(
                parts.decision_log,
                fixed_lineup(scorer),
                parts.policy,
                dispatch=parts.dispatcher.apply,
            )
            run = f"d{time.time_ns() % 10**10}"
            for start in range(0, events, 50):
                batch = range(start, min(start + 50, events))
                moderation.score([upload(f"{run}-{i}", **SPAM) for i in batch])
            env = {
                **os.environ,
                "MIZAN_STATE_DIR": str(folder / "state"),
                "MIZAN_DATABASE_URL": url,
                "MIZAN_REDIS_URL": redis.url,
                "MIZAN_WEBHOOK_URL": receiver.url,
                "MIZAN_WEBHOOK_SECRET": SECRET,
                "MIZAN_WORKER_FORK_PER_JOB": str(fork).lower(),
            }
            command = [*CLI, "worker", "--burst", "--no-cron"]
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True)
            seconds = time.perf_counter() - started
        finally:
            parts.close()
        delivered = len(receiver.effects)
        if delivered != events:
            raise SystemExit(f"{delivered} of {events} webhooks arrived")
        return events / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()
    print(f"machine: {len(os.sched_getaffinity(0))} cores; {dt.date.today().isoformat()}")
    for fork in (True, False):
        rate = drain(args.events, args.database_url, fork)
        mode = "a work horse forked per job" if fork else "jobs in the worker process"
        print(f"{mode}: {args.events} webhooks at {rate:.0f} a second", flush=True)


if __name__ == "__main__":
    main()
