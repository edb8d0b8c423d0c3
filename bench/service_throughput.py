"""POST /v1/videos/score through a real server, beside the bare FastAPI ceiling and the scorer.

    .venv/bin/python bench/service_throughput.py [--seconds 20] [--workers 2] [--postgres URL]
        [--shadow] [--server-cpus 0]

Needs wrk (Debian: apt-get install wrk). For a title-only video and a 1,500-word transcript:

1. service: `mizan serve` (uvicorn, --workers, SQLite file or --postgres), wrk at concurrency
   32 (2 threads); every request a new video_id, so each is really scored and logged;
2. bare: bench/bare_app.py (same body schema, same uvicorn settings, no model, no database);
3. scorer alone: one process per worker scoring the same video in a loop, one video per model
   run (the issue's baseline), and 8 per run (the service decides waiting requests together,
   service/coalescer.py, so its model cost per video can be under the one-at-a-time figure);
4. latency at load: shares of the scorer-alone rate (--load-shares, default 70%) offered
   open-loop (bench/open_loop.py: Poisson arrivals whatever the answers do, latency from each
   scheduled send), p50/p99 and the server's CPU per request, to the service and to the bare
   app at the same rates; a share past the closed-loop throughput is not offered.

wrk and the open-loop client run on the same machine and take CPU from the server; the bare
ceiling pays the same tax. So the closed-loop runs also give the server's CPU time per
request (its process group's, from /proc: not wrk's, nor a PostgreSQL server's), beside the
scorer alone's per video. With --server-cpus, the server, the bare app and the scorer alone
run on those CPUs only, and the client (wrk, the open-loop client, this script) and the
PostgreSQL backends serving the service on the others (bench/cpus.py, bench/pg_backends.py;
the postmaster and PostgreSQL's own background processes stay where they are): the service measured
apart from its load generator, as with a second machine. --workers then defaults to one per
server CPU.

Every server starts with a short warm-up (titles); on PostgreSQL the schema's tables are then
analyzed once, so the scoring write's plans are made on a table that holds rows, as on a
production server whose autovacuum has analyzed it (this machine's runs with autovacuum off,
and plans made while `videos` was empty slowed the write more and more over a run:
bench/pg_generic_plans.py). Prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from classifier import Video
from service.models import load_active
from service.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the sibling bench module, when run as a script
from bench import cpus, open_loop, pg_backends

TITLE = "Chicken karahi in 20 minutes, Lahore style, with fresh tomatoes"
WORDS = (
    "today we are going to talk about the match yesterday and the weather in lahore the team "
    "played well in the first half but the bowling was weak and the fans were unhappy "
).split()


def transcript_words(n: int) -> str:
    rng = random.Random(3)
    return " ".join(rng.choice(WORDS) for _ in range(n))


CASES = {
    "title only": {"title": TITLE},
    "1,500-word transcript": {"title": TITLE, "transcript": transcript_words(1500)},
    # removed at scoring: the write path with the removal's event, notice, strike and rollups
    # (every request has the same creator, so the account actions are taken once, then not)
    "spam, removed": {
        "title": "FREE iPhone giveaway",
        "description": "click the link to claim your prize, send your number",
    },
}
DEFAULT_CASES = ("title only", "1,500-word transcript")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout_s: float = 90, listeners: int = 1) -> None:
    """Until ``url`` answers and ``listeners`` sockets listen on its port: `mizan serve` gives
    each worker its own (SO_REUSEPORT), and the first worker's ready answer says nothing of
    the others. wrk's keep-alive connections stay where they landed, so a run started while
    one worker was still loading would send it every request (the likely cause of runs that
    used one core of two)."""
    deadline = time.monotonic() + timeout_s
    port = urlsplit(url).port
    while time.monotonic() < deadline:
        try:
            answered = httpx.get(url, timeout=2).status_code < 500
            if answered and (port is None or listening(port) >= listeners):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


def listening(port: int) -> int:
    """Sockets in LISTEN on ``port`` (any address), from /proc/net/tcp and tcp6."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                count += fields[1].endswith(f":{port:04X}") and fields[3] == "0A"
    return count


@contextmanager
def process(
    args: list[str], env: dict[str, str], on_cpus: frozenset[int] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        cpus.on_cpus(args, on_cpus),
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


CLI = [sys.executable, "-m", "service.cli", "-q"]


def service_env(state: Path, port: int, workers: int, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked `mizan serve`: its own state folder and port, the API
    alone (no RQ worker beside it), plus any other MIZAN_ ``settings``."""
    return {
        **os.environ,
        "MIZAN_STATE_DIR": str(state),
        "MIZAN_PORT": str(port),
        "MIZAN_WORKERS": str(workers),
        "MIZAN_SERVE_WORKER": "false",
        **settings,
    }


def new_schema(url: str, schema: str) -> str:
    """Create ``schema`` on the PostgreSQL server at ``url``; the URL of a service that keeps
    its tables there, whose backends are named ``schema`` (bench/pg_backends.py finds them)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return (
        f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        f"&application_name={schema}"
    )


def drop_schema(url: str, schema: str) -> None:
    """Drop what new_schema made, once its server has stopped (a run leaves nothing behind)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def uploader_key(env: dict[str, str], name: str) -> str:
    """A new uploader key, made by `mizan keys create` against the server's database."""
    return subprocess.run(
        [*CLI, "keys", "create", "--name", name, "--role", "uploader"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


WRK_SCRIPT = """
local threads_made = 0
function setup(thread)
  threads_made = threads_made + 1
  thread:set("tid", threads_made)
end
local counter = 0
local prefix = ""
function init(args)
  prefix = "%(run)s-" .. tostring(tid)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local template = [==[%(template)s]==]
request = function()
  counter = counter + 1
  local body = string.gsub(template, "VIDEO_ID", prefix .. "-" .. counter)
  return wrk.format(nil, "/v1/videos/score", nil, body)
end
"""
CONNECTIONS = 32
SETTLE_S = 2.0


def body_template(case: dict[str, str]) -> str:
    body = {
        "video_id": "VIDEO_ID",
        "creator_id": "bench",
        "region": "PK",
        "uploaded_at": "2023-03-01T10:00:00Z",
        **case,
    }
    return json.dumps(body)


def run_wrk_measuring_cpu(
    base: str, key: str, case: dict[str, str], seconds: int, server: subprocess.Popen[bytes]
) -> dict[str, float]:
    """`run_wrk`, the server's CPU per answered request (wrk's own CPU is not in it), and the
    busiest process's share of that CPU (two workers evenly loaded: 50%)."""
    before = cpus.cpu_by_group(server.pid)
    result = run_wrk(base, key, case, seconds)
    after = cpus.cpu_by_group(server.pid)
    used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
    total = sum(used.values())
    return {
        **result,
        "cpu_us_per_request": 1e6 * total / max(result["requests"], 1.0),
        "busiest_process_share": max(used.values(), default=0.0) / total if total else 0.0,
    }


def scoring_rounds(base: str) -> dict[str, float]:
    """Videos decided (``sum``) and scoring rounds (``count``) so far, all workers: the
    round-size histogram in /metrics (several workers: prometheus_client's multiprocess files)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    pattern = r"^mizan_scoring_batch_videos_(sum|count) (\S+)$"
    return {part: float(value) for part, value in re.findall(pattern, text, re.M)}


def run_wrk(base: str, key: str, case: dict[str, str], seconds: int) -> dict[str, float]:
    """wrk closed loop at 32 connections: each sends its next request when its answer came."""
    script = Path(tempfile.mkdtemp()) / "score.lua"
    run = f"r{time.time_ns() % 10**12}"
    script.write_text(WRK_SCRIPT % {"key": key, "template": body_template(case), "run": run})
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate_seen = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "rps": rate_seen,
        "requests": total,
        "p50_ms": _wrk_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _wrk_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def open_loop_at(
    base: str, key: str, case: dict[str, str], rate: float, seconds: int
) -> dict[str, float]:
    """Latency at ``rate`` requests a second, offered open-loop (bench/open_loop.py): Poisson
    arrivals, each a new video, latency from its scheduled send."""
    template = body_template(case)
    run_id = f"o{time.time_ns() % 10**12}"
    headers = {"Authorization": f"Bearer {key}"}

    def request_for(index: int) -> bytes:
        body = template.replace("VIDEO_ID", f"{run_id}-{index}").encode()
        return open_loop.post_request(base, "/v1/videos/score", headers, body)

    result = asyncio.run(open_loop.run(base, request_for, rate=rate, seconds=seconds))
    return result.as_dict()


def at_share(
    base: str,
    key: str,
    case: dict[str, str],
    rate: float,
    service: dict[str, float],
    seconds: int,
    server: subprocess.Popen[bytes],
) -> dict[str, float]:
    """Open-loop latency at ``rate``, and the server's CPU per request meanwhile (requests
    spread in time are decided in smaller rounds than a closed loop's, so each costs more),
    unless the rate is past what the service answered in the closed loop: a queue that only
    grows measures the length of the run, not the service (and the client, opening hundreds
    of connections, starts taking the server's CPU)."""
    if rate > 0.95 * service["rps"]:
        nan = float("nan")
        return {"offered_rps": rate, "rps": nan, "p50_ms": nan, "p99_ms": nan, "over": 1.0}
    settle()
    before = sum(cpus.cpu_by_group(server.pid).values())
    result = open_loop_at(base, key, case, rate, seconds)
    used_s = sum(cpus.cpu_by_group(server.pid).values()) - before
    return {**result, "cpu_us_per_request": 1e6 * used_s / max(result["requests"], 1.0)}


def settle() -> None:
    """A pause before an open-loop run: wrk stops with up to 32 requests still queued in the
    server (on one core, 32 transcripts are ~150 ms of work), which the first open-loop
    requests would otherwise wait behind. 2 s is ample for that; it is not a measured idle."""
    time.sleep(SETTLE_S)


def _wrk_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _score_loop(
    case: dict[str, str],
    seconds: float,
    batch: int,
    queue: multiprocessing.Queue,  # type: ignore[type-arg]
    on_cpus: frozenset[int] | None,
) -> None:
    if on_cpus is not None:
        os.sched_setaffinity(0, on_cpus)
    scorer = load_active(PROJECT_ROOT / "models")
    videos = [Video(**case)] * batch  # every field the requests carry
    scorer.score_videos(videos)
    count, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        scorer.score_videos(videos)
        count += batch
    queue.put(count / seconds)


def scorer_alone(
    case: dict[str, str],
    processes: int,
    seconds: float,
    batch: int = 1,
    on_cpus: frozenset[int] | None = None,
) -> float:
    """Videos a second scored by ``processes`` processes in a loop, ``batch`` per model run."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=_score_loop, args=(case, seconds, batch, queue, on_cpus))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(queue.get() for _ in workers)


WARM_UP_S = 3


def warm_up(base: str, key: str) -> None:
    """A few seconds of titles, so the measured runs do not pay for first connections and
    first statements; always titles, so a removal case's one-off account actions stay in
    its own run."""
    result = run_wrk(base, key, CASES["title only"], WARM_UP_S)
    if result["errors"]:
        sys.exit(f"warm-up of {base}: {result['errors']:.0f} non-2xx responses")


SHADOW = "1.0.2-shadow"


def shadow_models(folder: Path) -> Path:
    """The committed models plus a copy of the active one under another version name."""
    models = folder / "models"
    shutil.copytree(PROJECT_ROOT / "models", models)
    active = (models / "ACTIVE").read_text().strip()
    shutil.copytree(models / active, models / SHADOW)
    card = models / SHADOW / "card.json"
    card.write_text(card.read_text().replace(f'"version": "{active}"', f'"version": "{SHADOW}"'))
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, help="default 2, or one per --server-cpus CPU")
    parser.add_argument(
        "--server-cpus",
        type=cpus.parse_cpu_list,
        help='run the server and the scorer alone on these CPUs ("0", "0-1"), the client '
        "and the database backends on the others",
    )
    parser.add_argument("--postgres", help="also run against this PostgreSQL URL")
    parser.add_argument(
        "--case",
        action="append",
        choices=list(CASES),
        help=f"measure only these (repeatable; default: {', '.join(DEFAULT_CASES)})",
    )
    parser.add_argument(
        "--shadow",
        action="store_true",
        help="also run on SQLite with a challenger in shadow (a copy of the model: same cost)",
    )
    parser.add_argument(
        "--load-shares",
        type=lambda text: sorted(float(share) for share in text.split(",")),
        default=[0.7],
        help="open-loop latency at these shares of the scorer-alone rate (default 0.7)",
    )
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))  # before this script moves itself
    server_cpus: frozenset[int] | None = args.server_cpus
    if server_cpus and args.postgres and not pg_backends.is_local(args.postgres):
        sys.exit("--server-cpus with --postgres needs the database server on this machine")
    client_cpus = cpus.move_client_off(server_cpus)  # wrk and the open-loop client run from here
    args.workers = args.workers or (len(server_cpus) if server_cpus else 2)
    cases = {name: CASES[name] for name in (args.case or DEFAULT_CASES)}
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")

    databases: dict[str, str | None] = {"SQLite": None}
    if args.postgres:
        databases["PostgreSQL"] = args.postgres
    if args.shadow:
        databases["SQLite, shadow on"] = None
    rows = []
    alone = {
        name: scorer_alone(case, args.workers, args.seconds / 2, on_cpus=server_cpus)
        for name, case in cases.items()
    }
    # the service decides waiting requests together (service/coalescer.py): for comparison,
    # the scorer alone on the same video 8 at a time (the baseline is one at a time)
    alone_batched = {
        name: scorer_alone(case, args.workers, args.seconds / 2, batch=8, on_cpus=server_cpus)
        for name, case in cases.items()
    }
    bare_port = free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--workers",
            str(args.workers),
            "--port",
            str(bare_port),
            "--no-access-log",
            "--log-level",
            "warning",
            "bench.bare_app:app",
        ],
        env,
        server_cpus,
    ) as bare_server:
        bare_base = f"http://127.0.0.1:{bare_port}"
        wait_ready(f"{bare_base}/docs")
        warm_up(bare_base, "none")
        bare = {
            name: run_wrk_measuring_cpu(bare_base, "none", case, args.seconds, bare_server)
            for name, case in cases.items()
        }
        if any(result["errors"] for result in bare.values()):
            sys.exit(f"bare app: non-2xx responses: {bare}")
        # the same open-loop rates as the service's below: what requests spread in time cost
        # the framework alone, beside what they cost the service
        bare_curves = {
            name: {
                share: at_share(
                    bare_base,
                    "none",
                    case,
                    share * alone[name],
                    bare[name],
                    args.seconds,
                    bare_server,
                )
                for share in args.load_shares
            }
            for name, case in cases.items()
        }

    for database, url in databases.items():
        state = Path(tempfile.mkdtemp(prefix="mizan-bench-"))
        port = free_port()
        env = service_env(state, port, args.workers)
        schema = f"bench_{int(time.time())}"  # also the application_name of its backends
        if url:
            env["MIZAN_DATABASE_URL"] = new_schema(url, schema)
        if database.endswith("shadow on"):
            env["MIZAN_MODELS_DIR"] = str(shadow_models(state))
            subprocess.run([*CLI, "models", "shadow", SHADOW], env=env, check=True)
        key = uploader_key(env, "bench")
        with contextlib.ExitStack() as stack:
            if url:  # callbacks run last in, first out: after the server below has stopped
                stack.callback(drop_schema, url, schema)
            server = stack.enter_context(process([*CLI, "serve"], env, server_cpus))
            backends = None
            if url:
                backends = stack.enter_context(pg_backends.Backends(url, schema))
                stack.enter_context(backends.kept_on(client_cpus))
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/readyz", listeners=args.workers)
            warm_up(base, key)
            if url:
                pg_backends.analyze(url, schema)
            for name, case in cases.items():
                reading = backends.cpu_s()[1] if backends else {}
                rounds_before = scoring_rounds(base)
                service = run_wrk_measuring_cpu(base, key, case, args.seconds, server)
                rounds = {k: v - rounds_before.get(k, 0.0) for k, v in scoring_rounds(base).items()}
                if rounds.get("count"):
                    service["videos_a_round"] = rounds["sum"] / rounds["count"]
                if backends:
                    used_s, _ = backends.cpu_s(reading)
                    service["database_cpu_us_per_request"] = 1e6 * used_s / service["requests"]
                # the load is 70% of what the scorer alone does, offered open-loop
                curve = {
                    share: at_share(
                        base, key, case, share * alone[name], service, args.seconds, server
                    )
                    for share in args.load_shares
                }
                at_load = curve[max(args.load_shares)]
                row = {
                    "database": database,
                    "case": name,
                    "service": service,
                    "bare": bare[name],
                    "scorer_alone_per_s": alone[name],
                    "scorer_alone_8_at_a_time_per_s": alone_batched[name],
                    "open_loop": {f"{share:.0%}": result for share, result in curve.items()},
                    "bare_open_loop": {
                        f"{share:.0%}": result for share, result in bare_curves[name].items()
                    },
                    "open_loop_at_top_share": at_load,
                    "service_vs_scorer": service["rps"] / alone[name],
                }
                rows.append(row)
                print(json.dumps(row), flush=True)

    print()
    print(
        f"machine: {cores} cores; {dt.date.today().isoformat()}; "
        f"uvicorn workers {args.workers}; wrk -t2 -c32 -d{args.seconds}s; "
        + (
            f"server and scorer alone on CPUs {sorted(server_cpus)}, client and database "
            f"backends on {sorted(client_cpus or ())}"
            if server_cpus
            else "server, client and database share every core"
        )
    )
    print()
    print(
        "| database | case | service req/s | p50 ms | p99 ms | bare FastAPI req/s | scorer alone /s "
        f"| scorer alone, 8 at a time /s | service / scorer | open loop at {max(args.load_shares):.0%}: "
        "offered req/s "
        "| achieved | errors | p50 ms | p99 ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s, b, o = row["service"], row["bare"], row["open_loop_at_top_share"]
        print(
            f"| {row['database']} | {row['case']} | {s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} "
            f"| {b['rps']:.0f} | {row['scorer_alone_per_s']:.0f} "
            f"| {row['scorer_alone_8_at_a_time_per_s']:.0f} | {row['service_vs_scorer']:.0%} "
            f"| {o['offered_rps']:.0f} {_latency_cells(o)}"
        )
    print_cpu(rows, args.workers)
    if len(args.load_shares) > 1:
        print_curves(rows)


def print_cpu(rows: list[dict[str, object]], workers: int) -> None:
    """CPU per request: what the closed-loop rates cost, whatever else shared the cores."""
    print()
    print(
        "| database | case | service CPU us/request | bare FastAPI CPU us/request "
        "| scorer alone CPU us/video (one at a time) | 8 at a time "
        "| busiest server process's share of its CPU (service, bare) "
        "| database backends' CPU us/request | videos a scoring round |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        s, b = row["service"], row["bare"]
        # the scorer-alone processes are busy the whole time: a core-second each per second
        alone = 1e6 * workers / row["scorer_alone_per_s"]  # type: ignore[operator]
        batched = 1e6 * workers / row["scorer_alone_8_at_a_time_per_s"]  # type: ignore[operator]
        print(
            f"| {row['database']} | {row['case']} | {s['cpu_us_per_request']:.0f} "  # type: ignore[index]
            f"| {b['cpu_us_per_request']:.0f} | {alone:.0f} | {batched:.0f} "  # type: ignore[index]
            f"| {s['busiest_process_share']:.0%}, {b['busiest_process_share']:.0%} "  # type: ignore[index]
            f"| {_cell(s.get('database_cpu_us_per_request'))} "  # type: ignore[attr-defined]
            f"| {s.get('videos_a_round', 0.0):.1f} |"  # type: ignore[attr-defined]
        )


def print_curves(rows: list[dict[str, object]]) -> None:
    """Open-loop latency at each share of the scorer-alone rate."""
    print()
    print(
        "| database | case | share of scorer alone | offered req/s | achieved | errors | p50 ms "
        "| p99 ms | server CPU us/request | bare FastAPI at that rate: p50 ms, p99 ms, "
        "CPU us/request |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        bare_curve: dict[str, dict[str, float]] = row["bare_open_loop"]  # type: ignore[assignment]
        for share, o in row["open_loop"].items():  # type: ignore[attr-defined]
            b = bare_curve[share]
            bare_cells = (
                "not offered"
                if b.get("over")
                else f"{b['p50_ms']:.1f}, {b['p99_ms']:.1f}, {_cell(b.get('cpu_us_per_request'))}"
            )
            print(
                f"| {row['database']} | {row['case']} | {share} | {o['offered_rps']:.0f} "
                f"{_latency_cells(o)} {_cell(o.get('cpu_us_per_request'))} | {bare_cells} |"
            )


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _latency_cells(result: dict[str, float]) -> str:
    if result.get("over"):
        return "| past the closed-loop throughput: not offered | | | |"
    return (
        f"| {result['rps']:.0f} | {result['errors']:.0f} | {result['p50_ms']:.1f} "
        f"| {result['p99_ms']:.1f} |"
    )


if __name__ == "__main__":
    main()
