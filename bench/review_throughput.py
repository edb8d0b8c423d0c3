"""Human review through a real server: claims + decisions per second with 8 moderators, and
what the review enqueue adds to POST /v1/videos/score.

    .venv/bin/python bench/review_throughput.py [--items 2000] [--moderators 8] [--postgres URL]

1. `mizan serve` (2 uvicorn workers + its RQ worker, SQLite file or --postgres, Redis at
   MIZAN_REDIS_URL or embedded); the queue is filled with --items review-bound videos through
   score-batch; then --moderators threads, each with its own moderator key and HTTP client,
   loop claim -> decide (remove or approve) until the queue is empty. Reports pairs per second
   and claim/decision latency. Clients run on the same machine and take CPU from the server.
2. Enqueue cost, in-process (no HTTP noise): the same review-bound videos scored by the
   moderation use case with the review dispatch on and off, alternating rounds on one SQLite
   file and one Redis; reports the mean time per scored video of each and the difference.

Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.service_throughput import drop_schema, free_port, new_schema, process, wait_ready
from service import wiring
from service.model_registry import fixed_lineup
from service.models import load_active
from service.moderation import Moderation
from service.redis_conn import start_embedded
from service.routes.videos import to_upload
from service.schemas import VideoIn
from service.settings import Settings

MISINFORMATION = {
    "title": "The truth they hide",
    "transcript": "garlic water cures covid in two days, the vaccine has a microchip",
}


def video(video_id: str) -> dict[str, object]:
    return {
        "video_id": video_id,
        "creator_id": "bench",
        "region": "PK",
        "language": "en",
        "uploaded_at": dt.datetime.now(dt.UTC).isoformat(),
        **MISINFORMATION,
    }


def key(cli: list[str], env: dict[str, str], name: str, role: str) -> str:
    args = [*cli, "keys", "create", "--name", name, "--role", role, "--languages", "en"]
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout.strip()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def moderators_run(base: str, keys: list[str]) -> dict[str, object]:
    claims: list[float] = []
    decisions: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def moderator(api_key: str) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        ) as client:
            turn = 0
            while True:
                started = time.perf_counter()
                claim = client.post("/v1/review/claim")
                claimed = time.perf_counter()
                if claim.status_code == 204:
                    return
                if claim.status_code != 200:
                    errors.append(f"claim {claim.status_code} {claim.text[:200]}")
                    return
                item_id = claim.json()["item"]["item_id"]
                turn += 1
                body = (
                    {"verdict": "remove", "label": "misinformation"}
                    if turn % 2
                    else {"verdict": "approve"}
                )
                decided = client.post(f"/v1/review/items/{item_id}/decision", json=body)
                done = time.perf_counter()
                if decided.status_code != 200:
                    errors.append(f"decision {decided.status_code} {decided.text[:200]}")
                    return
                with lock:
                    claims.append(claimed - started)
                    decisions.append(done - claimed)

    threads = [threading.Thread(target=moderator, args=(k,)) for k in keys]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "pairs": len(decisions),
        "seconds": elapsed,
        "pairs_per_s": len(decisions) / elapsed,
        "claim_p50_ms": 1000 * percentile(claims, 0.5),
        "claim_p99_ms": 1000 * percentile(claims, 0.99),
        "decision_p50_ms": 1000 * percentile(decisions, 0.5),
        "decision_p99_ms": 1000 * percentile(decisions, 0.99),
        "errors": errors,
    }


def http_run(items: int, moderators: int, database_url: str | None) -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="mizan-review-bench-"))
    port = free_port()
    env = {**os.environ, "MIZAN_STATE_DIR": str(state), "MIZAN_PORT": str(port)}
    env["MIZAN_WORKERS"] = "2"
    if database_url:
        env["MIZAN_DATABASE_URL"] = database_url
    cli = [sys.executable, "-m", "service.cli", "-q"]
    uploader = key(cli, env, "bench-upload", "uploader")
    moderator_keys = [key(cli, env, f"bench-mod-{n}", "moderator") for n in range(moderators)]
    base = f"http://127.0.0.1:{port}"
    with process([*cli, "serve"], env):
        wait_ready(f"{base}/readyz", listeners=2)
        run = int(time.time())
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {uploader}"}, timeout=120
        ) as client:
            for start in range(0, items, 64):
                batch = [video(f"rb-{run}-{n}") for n in range(start, min(items, start + 64))]
                response = client.post("/v1/videos/score-batch", json={"videos": batch})
                response.raise_for_status()
            queued = client.get(
                "/v1/review/queues", headers={"Authorization": f"Bearer {moderator_keys[0]}"}
            ).json()["waiting"]
        result = moderators_run(base, moderator_keys)
    result["queued"] = queued
    return result


def enqueue_cost(rounds: int, per_round: int) -> dict[str, float]:
    """Median time per new review-bound video, with the review dispatch on and off."""
    state = Path(tempfile.mkdtemp(prefix="mizan-enqueue-bench-"))
    redis_url = os.environ.get("MIZAN_REDIS_URL")
    embedded = None
    if not redis_url:
        embedded = start_embedded(state / "redis")
        redis_url = embedded.url
    settings = Settings(state_dir=state, redis_url=redis_url)
    parts = wiring.build(settings, migrate_schema=True)
    scorer = load_active(settings.models_dir)
    with_queue = Moderation(
        parts.decision_log, fixed_lineup(scorer), parts.policy, dispatch=parts.dispatcher.apply
    )
    without = Moderation(parts.decision_log, fixed_lineup(scorer), parts.policy)
    timings: dict[str, list[float]] = {"with enqueue": [], "without": []}
    for round_ in range(rounds):
        for tag, name, moderation in (
            ("on", "with enqueue", with_queue),
            ("off", "without", without),
        ):
            uploads = [  # new ids each time: every video is really scored and written
                to_upload(VideoIn.model_validate(video(f"{tag}-{round_}-{n}")))
                for n in range(per_round)
            ]
            started = time.perf_counter()
            for upload in uploads:
                moderation.score([upload])
            timings[name].append((time.perf_counter() - started) / per_round)
    parts.close()
    if embedded is not None:
        embedded.close()
    result = {name: 1000 * statistics.median(values) for name, values in timings.items()}
    result["added"] = result["with enqueue"] - result["without"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--moderators", type=int, default=8)
    parser.add_argument("--postgres", help="also run against this PostgreSQL URL")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--enqueue-only", action="store_true", help="skip the HTTP part")
    args = parser.parse_args()

    print(f"# review throughput, {dt.date.today()}, {os.cpu_count()} cores\n")
    print(
        "| database | items | moderators | pairs/s | claim p50 / p99 ms | decision p50 / p99 ms |"
    )
    print("|---|---|---|---|---|---|")
    databases = {"SQLite": None}
    if args.postgres:
        databases["PostgreSQL"] = args.postgres
    for name, url in databases.items() if not args.enqueue_only else []:
        schema = f"bench_review_{int(time.time())}"
        try:
            result = http_run(args.items, args.moderators, new_schema(url, schema) if url else None)
        finally:
            if url:
                drop_schema(url, schema)
        if result["errors"] or result["pairs"] != args.items or result["queued"] != args.items:
            sys.exit(f"{name}: not every item was decided once: {result}")
        print(
            f"| {name} | {result['pairs']} | {args.moderators} | {result['pairs_per_s']:.0f} | "
            f"{result['claim_p50_ms']:.1f} / {result['claim_p99_ms']:.1f} | "
            f"{result['decision_p50_ms']:.1f} / {result['decision_p99_ms']:.1f} |"
        )
    cost = enqueue_cost(args.rounds, 200)
    print("\n| scoring a review-bound video, in-process (median of rounds) | ms per video |")
    print("|---|---|")
    for name in ("without", "with enqueue", "added"):
        print(f"| {name} | {cost[name]:.3f} |")


if __name__ == "__main__":
    main()
