"""Running the service: `mizan serve` (uvicorn workers and an RQ worker) and `mizan demo`
(serve + a walk-through).

Start-up work that must happen once, not once per worker, happens here before uvicorn forks:
the schema migration, the embedded Redis server (when no REDIS_URL is set), and the folder for
prometheus_client's multiprocess files. Workers learn about them through the environment.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import httpx
import uvicorn
from pydantic import SecretStr

from service.app import create_app
from service.database import create_engine, migrate
from service.domain import Role
from service.keys import KeyStore
from service.redis_conn import RedisHandle, start_embedded
from service.settings import Settings, get_settings
from service.supervisor import run_workers

log = logging.getLogger(__name__)


@contextmanager
def prepared(settings: Settings) -> Iterator[Settings]:
    """Migrate once, start the embedded Redis if needed, and export what workers must share."""
    engine = create_engine(settings.effective_database_url())
    if settings.auto_migrate:
        migrate(engine)
    engine.dispose()
    embedded: RedisHandle | None = None
    if not settings.redis_url:
        embedded = start_embedded(settings.state_dir)
        os.environ["MIZAN_REDIS_URL"] = embedded.url
        log.info("redis.embedded_started", extra={"url": embedded.url})
    os.environ["MIZAN_AUTO_MIGRATE"] = "false"  # done above; workers must not race on it
    if not settings.console_secret.get_secret_value():  # one key for every worker's cookies
        os.environ["MIZAN_CONSOLE_SECRET"] = secrets.token_urlsafe(32)
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mizan-metrics-")
    get_settings.cache_clear()  # workers build their settings from the environment above
    update: dict[str, object] = {
        "auto_migrate": False,
        "console_secret": SecretStr(os.environ.get("MIZAN_CONSOLE_SECRET", "")),
    }
    if embedded is not None:
        update["redis_url"] = embedded.url
    try:
        yield settings.model_copy(update=update)
    finally:
        if embedded is not None:
            embedded.close()


@contextmanager
def rq_worker(settings: Settings) -> Iterator[None]:
    """`mizan worker` in a child process beside the API (restarted if it dies), when
    settings.serve_worker is on. It reads the same environment, embedded Redis URL included."""
    if not settings.serve_worker:
        yield
        return
    command = [sys.executable, "-m", "service.cli", "-q", "worker"]
    stopping = threading.Event()
    process = subprocess.Popen(command, env=os.environ.copy())

    def watch() -> None:
        nonlocal process
        while not stopping.wait(1.0):
            if process.poll() is not None:
                log.warning("rq_worker.died", extra={"exit_code": process.returncode})
                process = subprocess.Popen(command, env=os.environ.copy())

    watcher = threading.Thread(target=watch, name="rq-worker-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stopping.set()
        watcher.join(5)
        process.terminate()  # rq's warm shutdown: the job in hand finishes first
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def serve(settings: Settings) -> None:
    with prepared(settings) as ready, rq_worker(ready):
        if ready.workers == 1:
            # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the
            # handler it found there. Python's default handler would end the process on the
            # spot, before the blocks above stop the RQ worker and the embedded Redis: both
            # outlived every `kill` of a one-worker server. As SystemExit, they run.
            signal.signal(signal.SIGTERM, _exit_on_signal)
            uvicorn.run(
                create_app(ready),
                host=ready.host,
                port=ready.port,
                log_config=None,  # its lines in the JSON of logs.configure, as every worker's
                access_log=False,
            )
        else:
            # the workers log at this process's level (mizan -q: warning)
            run_workers(
                ready.host, ready.port, ready.workers, logging.getLogger().getEffectiveLevel()
            )


def _exit_on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # a shutdown asked for and done: 0, as the several-worker supervisor


DEMO_VIDEOS: list[dict[str, object]] = [
    {
        "video_id": "demo-cooking",
        "creator_id": "chef-amna",
        "region": "PK",
        "title": "Chicken karahi in 20 minutes",
        "description": "Ammi ki recipe, Lahore style",
        "hashtags": ["#PakistaniFood", "#Karahi"],
        "transcript": "today we make chicken karahi with fresh tomatoes green chillies and ginger",
    },
    {
        "video_id": "demo-giveaway",
        "creator_id": "promo-king",
        "region": "PK",
        "title": "FREE iPhone giveaway!!!",
        "description": "Click the link in bio to claim your prize, send your number",
        "hashtags": ["#Giveaway", "#FreeiPhone"],
        "transcript": [
            {"start_s": 0.0, "end_s": 5.0, "text": "hi everyone welcome back to the channel"},
            {
                "start_s": 5.0,
                "end_s": 11.0,
                "text": "you have won a free prize, text WIN to 80082 now",
            },
        ],
    },
    {
        "video_id": "demo-covid",
        "creator_id": "truth-seeker",
        "region": "PK",
        "title": "The truth they hide",
        "transcript": "garlic water cures covid in two days, the vaccine has a microchip",
    },
    {
        "video_id": "demo-roast",
        "creator_id": "roaster",
        "region": "PK",
        "language": "ur-Latn",
        "title": "Reply to haters",
        "transcript": [
            {"start_s": 0.0, "end_s": 3.0, "text": "sab ko salam"},
            {"start_s": 3.0, "end_s": 7.0, "text": "tu bohat ganda kameena insaan hai chup kar"},
        ],
    },
]


def demo(settings: Settings) -> None:
    """Serve on the embedded defaults, create a demo key, score the demo videos, keep serving."""
    settings = settings.model_copy(update={"console_secure_cookie": False})  # plain local http
    with prepared(settings) as ready, rq_worker(ready):
        engine = create_engine(ready.effective_database_url())
        _, plaintext = KeyStore(engine).create(
            "demo",
            [Role.UPLOADER, Role.MODERATOR, Role.APPEALS_REVIEWER, Role.ANALYST, Role.ADMIN],
            ["en", "ur", "ur-Latn"],
            dt.datetime.now(dt.UTC),
        )
        engine.dispose()
        config = uvicorn.Config(
            create_app(ready),
            host=ready.host,
            port=ready.port,
            log_level="warning",
            log_config=None,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://{ready.host}:{ready.port}"
        _wait_ready(base)
        out = sys.stdout
        out.write(f"\nMizan is serving on {base}  (API docs: {base}/docs)\n")
        out.write(f"demo API key (all roles; shown once): {plaintext}\n")
        out.write(f"console: {base}/console (sign in with the key)\n\n")
        headers = {"Authorization": f"Bearer {plaintext}"}
        now = dt.datetime.now(dt.UTC).isoformat()
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for video in DEMO_VIDEOS:
                response = client.post("/v1/videos/score", json={**video, "uploaded_at": now})
                out.write(_decision_line(str(video["video_id"]), response.json()))
            queues = client.get("/v1/review/queues").json()
        waiting = ", ".join(
            f"{q['queue']}: {q['waiting']}" for q in queues["queues"] if q["waiting"]
        )
        out.write(f"\nwaiting for a moderator: {waiting or 'nothing'}\n")
        out.write(f"watch the queues: .venv/bin/rq info --url {ready.redis_url}\n")
        auth = f"-H 'Authorization: Bearer {plaintext}'"
        body = json.dumps({**DEMO_VIDEOS[0], "video_id": "my-video", "uploaded_at": now})
        out.write(
            "\nTry it:\n"
            f"  curl -s {auth} {base}/v1/videos/demo-giveaway | python3 -m json.tool\n"
            f"  curl -s -X POST {auth} -H 'Content-Type: application/json' \\\n"
            f"       -d '{body}' {base}/v1/videos/score\n"
            "Review as a moderator (the key has every role):\n"
            f"  curl -s {auth} {base}/v1/review/queues | python3 -m json.tool\n"
            f"  curl -s -X POST {auth} {base}/v1/review/claim | python3 -m json.tool\n"
            f"  curl -s -X POST {auth} -H 'Content-Type: application/json' \\\n"
            '       -d \'{"verdict": "remove", "label": "misinformation"}\' \\\n'
            f"       {base}/v1/review/items/<item_id from the claim>/decision\n"
            "Appeal a removal on the creator's behalf, then decide it as an appeals reviewer:\n"
            f"  curl -s -X POST {auth} -H 'Content-Type: application/json' \\\n"
            '       -d \'{"statement": "it is my own shop"}\' '
            f"{base}/v1/videos/demo-giveaway/appeals\n"
            f"  curl -s -X POST {auth} {base}/v1/appeals/claim | python3 -m json.tool\n"
            f"  curl -s -X POST {auth} -H 'Content-Type: application/json' \\\n"
            '       -d \'{"verdict": "restore"}\' '
            f"{base}/v1/appeals/<appeal_id from the claim>/decision\n"
            "Ctrl-C stops the server.\n"
        )

        def stop(_signum: int, _frame: FrameType | None) -> None:
            raise KeyboardInterrupt  # SIGTERM ends the demo like Ctrl-C: servers shut down

        signal.signal(signal.SIGTERM, stop)
        try:
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            server.should_exit = True
            thread.join(10)


def _decision_line(video_id: str, decision: dict[str, object]) -> str:
    if "action" not in decision:
        return f"{video_id}: {decision}\n"
    evidence = decision["evidence"]
    where = ""
    if isinstance(evidence, list) and evidence:
        first = evidence[0]
        span = f" {first['start_s']}-{first['end_s']}s" if first["start_s"] is not None else ""
        where = f"  evidence: {first['field']}{span} {first['text'][:50]!r}"
    label = decision["label"] or "-"
    return f"{video_id:<15} {decision['action']!s:<7} {label!s:<15}{where}\n"


def _wait_ready(base: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service at {base} did not become ready in {timeout_s} s")
