"""The GIL switch interval (MIZAN_GIL_SWITCH_INTERVAL_MS) against scoring latency and CPU.

    .venv/bin/python bench/switch_interval.py [--intervals 5,1] [--repeats 4] [--seconds 15]
        [--closed-seconds 10] [--rates 70,118,166] [--server-cpus 0] > runs.txt
    .venv/bin/python bench/switch_interval.py --summarise runs.txt [more.txt ...]

Another numeric setting is compared the same way with --setting, its values in --intervals:
    .venv/bin/python bench/switch_interval.py --setting MIZAN_COALESCE_MAX_CHARS \
        --intervals 200000,36000 --rates 105,140,175

A worker's event loop and its scoring thread share the GIL; while the scoring thread runs
Python, the event loop waits for its turn, up to the switch interval each time. For each
interval, `--repeats` times, in turn (the order reversed every other repeat, so drift over
the run does not favour one): a new one-worker `mizan serve` on SQLite (or on a new schema of
--postgres, its backends moved to the client's CPUs and the tables analyzed after the
warm-up, as in bench/service_throughput.py), on --server-cpus (default: one CPU; the client
on the others, bench/cpus.py), a warm-up, then

1. closed loop (wrk, 32 connections): titles, then 1,500-word transcripts; the server's CPU
   per request (what a shorter interval costs in GIL hand-offs);
2. open loop (bench/open_loop.py) of transcripts at each of --rates requests a second:
   client p50/p99 from each request's scheduled send, and the server's own share of requests
   over 50 ms (its latency histogram in /metrics).

Prints one JSON line per measurement and a Markdown table of medians over the repeats (each
column's median on its own); --summarise prints that table for the JSON lines of earlier runs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from service.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the sibling bench modules, when run as a script
from bench import cpus, pg_backends
from bench.service_throughput import (
    CASES,
    CLI,
    drop_schema,
    free_port,
    new_schema,
    open_loop_at,
    process,
    run_wrk_measuring_cpu,
    service_env,
    settle,
    uploader_key,
    wait_ready,
    warm_up,
)

TRANSCRIPT = CASES["1,500-word transcript"]
SCORE_ROUTE = 'route="/v1/videos/score"'


def share_over_50ms(metrics_before: str, metrics_after: str) -> float:
    """Of the scoring requests answered between two /metrics readings, the share that took
    the server over 50 ms (a bucket bound of mizan_http_request_duration_seconds)."""

    def buckets(text: str) -> dict[str, float]:
        counts: dict[str, float] = {}
        for line in text.splitlines():
            if (
                line.startswith("mizan_http_request_duration_seconds_bucket")
                and SCORE_ROUTE in line
            ):
                bound = re.search(r'le="([^"]+)"', line).group(1)  # type: ignore[union-attr]
                counts[bound] = counts.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
        return counts

    before, after = buckets(metrics_before), buckets(metrics_after)
    total = after["+Inf"] - before.get("+Inf", 0.0)
    within = after["0.05"] - before.get("0.05", 0.0)
    return (total - within) / total if total else float("nan")


def measure(
    value: float,
    args: argparse.Namespace,
    server_cpus: frozenset[int] | None,
    client_cpus: frozenset[int] | None,
) -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="mizan-switch-"))
    port = free_port()
    env = service_env(state, port, 1, **{args.setting: f"{value:g}"})
    schema = f"bench_{time.time_ns()}"  # a new schema each run, so each starts empty
    if args.postgres:
        env["MIZAN_DATABASE_URL"] = new_schema(args.postgres, schema)
    key = uploader_key(env, "bench")
    base = f"http://127.0.0.1:{port}"
    # "interval_ms" holds the setting's value, whatever it is: so named first, and kept so
    # that earlier runs' lines still summarise
    result: dict[str, object] = {"setting": args.setting, "interval_ms": value}
    with contextlib.ExitStack() as stack:
        if args.postgres:  # dropped last, once the server below has stopped
            stack.callback(drop_schema, args.postgres, schema)
        server = stack.enter_context(process([*CLI, "serve"], env, server_cpus))
        if args.postgres:  # its backends on the client's CPUs, as in service_throughput
            backends = stack.enter_context(pg_backends.Backends(args.postgres, schema))
            stack.enter_context(backends.kept_on(client_cpus))
        wait_ready(f"{base}/readyz")
        warm_up(base, key)
        if args.postgres:
            pg_backends.analyze(args.postgres, schema)
        for name, case in (("titles", CASES["title only"]), ("transcripts", TRANSCRIPT)):
            closed = run_wrk_measuring_cpu(base, key, case, args.closed_seconds, server)
            result[f"{name}_rps"] = closed["rps"]
            result[f"{name}_cpu_us"] = closed["cpu_us_per_request"]
        for rate in args.rates:
            settle()  # before the reading: what wrk left queued is not this rate's
            before = httpx.get(f"{base}/metrics").text
            opened = open_loop_at(base, key, TRANSCRIPT, rate, args.seconds)
            after = httpx.get(f"{base}/metrics").text
            result[f"open_{rate:g}"] = {
                "p50_ms": opened["p50_ms"],
                "p99_ms": opened["p99_ms"],
                "errors": opened["errors"],
                "server_over_50ms": share_over_50ms(before, after),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--intervals",
        type=lambda t: [float(x) for x in t.split(",")],
        default=[5.0, 1.0],
        help="the setting's values",
    )
    parser.add_argument("--setting", default="MIZAN_GIL_SWITCH_INTERVAL_MS")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15, help="each open-loop rate")
    parser.add_argument("--closed-seconds", type=int, default=10, help="each closed-loop run")
    parser.add_argument(
        "--rates", type=lambda t: [float(x) for x in t.split(",")], default=[70.0, 118.0, 166.0]
    )
    parser.add_argument("--server-cpus", type=cpus.parse_cpu_list, default=None)
    parser.add_argument("--postgres", help="PostgreSQL URL instead of SQLite (a schema each run)")
    parser.add_argument("--summarise", nargs="+", type=Path, help="JSON lines of earlier runs")
    args = parser.parse_args()
    if args.summarise:
        lines = [line for path in args.summarise for line in path.read_text().splitlines()]
        runs = [json.loads(line) for line in lines if line.startswith("{")]
        setting = str(runs[0].get("setting", "MIZAN_GIL_SWITCH_INTERVAL_MS"))
        values = sorted({float(run["interval_ms"]) for run in runs}, reverse=True)
        print_table(runs, values, args.rates, setting)
        return
    cores = len(os.sched_getaffinity(0))
    server_cpus = args.server_cpus
    if server_cpus is None and cores > 1:
        server_cpus = frozenset({min(os.sched_getaffinity(0))})
    client_cpus = cpus.move_client_off(server_cpus)

    runs = []
    for repeat in range(args.repeats):
        for interval in args.intervals[::-1] if repeat % 2 else args.intervals:
            run = {"repeat": repeat, **measure(interval, args, server_cpus, client_cpus)}
            print(json.dumps(run), flush=True)
            runs.append(run)

    print()
    where = f"on CPUs {sorted(server_cpus)}" if server_cpus else "sharing the only core"
    database = "PostgreSQL (its backends on the client's CPUs)" if args.postgres else "SQLite"
    print(
        f"machine: {cores} cores; {dt.date.today().isoformat()}; one worker {where}, {database}; "
        f"medians of {args.repeats} runs per value; open loop {args.seconds} s per rate, "
        f"closed loop {args.closed_seconds} s per case"
    )
    print()
    print_table(runs, args.intervals, args.rates, args.setting)


def print_table(
    runs: list[dict[str, object]], intervals: list[float], rates: list[float], setting: str
) -> None:
    name = "switch interval ms" if setting == "MIZAN_GIL_SWITCH_INTERVAL_MS" else setting
    rate_cells = " | ".join(f"{rate:g}/s: p50 ms, p99 ms, server > 50 ms" for rate in rates)
    print(
        f"| {name} | titles closed loop req/s, CPU us | transcripts closed loop "
        f"req/s, CPU us | {rate_cells} |"
    )
    print("|---:|---|---|" + "---|" * len(rates))
    for interval in intervals:
        mine = [run for run in runs if run["interval_ms"] == interval]

        def median(field: str, among: list[dict[str, object]] = mine) -> float:
            return statistics.median(float(run[field]) for run in among)  # type: ignore[arg-type]

        def open_median(rate: float, field: str, among: list[dict[str, object]] = mine) -> float:
            return statistics.median(float(run[f"open_{rate:g}"][field]) for run in among)  # type: ignore[index]

        cells = " | ".join(
            f"{open_median(rate, 'p50_ms'):.0f}, {open_median(rate, 'p99_ms'):.0f}, "
            f"{open_median(rate, 'server_over_50ms'):.1%}"
            for rate in rates
        )
        print(
            f"| {interval:g} | {median('titles_rps'):,.0f}, {median('titles_cpu_us'):,.0f} "
            f"| {median('transcripts_rps'):,.0f}, {median('transcripts_cpu_us'):,.0f} | {cells} |"
        )
    print()
    print(f"| {name} | " + " | ".join(f"every p99 at {r:g}/s, ms" for r in rates) + " |")
    print("|---:|" + "---|" * len(rates))
    for interval in intervals:
        mine = [run for run in runs if run["interval_ms"] == interval]
        lists = " | ".join(
            ", ".join(f"{p99:.0f}" for p99 in sorted(run[f"open_{r:g}"]["p99_ms"] for run in mine))  # type: ignore[index]
            for r in rates
        )
        print(f"| {interval:g} | {lists} |")


if __name__ == "__main__":
    main()
