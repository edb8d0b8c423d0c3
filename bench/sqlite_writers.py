"""Two processes writing to one SQLite file: turns taken on a file lock vs SQLite's busy handler.

    .venv/bin/python bench/sqlite_writers.py [--seconds 5] [--processes 2]

Each process loops: a write transaction (one 4 kB insert, then 2 ms of work inside it, as a
decision's statements take), then 1 ms outside it (as the model run). Measured per
transaction, from asking for the write to its commit: with the writer file lock of
service/database.py, and without it (replaced in that process by a lock that does nothing,
so writers meet only at SQLite's lock and its busy handler, which sleeps 1, 2, 5, ... up to
100 ms between tries). All processes start writing at the same moment, after their imports. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from service import database


def _writer(
    url: str,
    file_lock: bool,
    start_at: float,
    seconds: float,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    if not file_lock:
        database._writer_file_lock = contextlib.nullcontext  # type: ignore[assignment]
    engine = database.create_engine(url)
    with database.write_transaction(engine):
        pass  # connected and warm before the clock starts
    time.sleep(max(0.0, start_at - time.time()))  # every process starts writing together
    latencies, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        with database.write_transaction(engine) as connection:
            connection.exec_driver_sql("INSERT INTO t (v) VALUES (?)", (os.urandom(2000).hex(),))
            time.sleep(0.002)
        latencies.append(1000 * (time.perf_counter() - started))
        time.sleep(0.001)
    out.put(latencies)


def measure(file_lock: bool, processes: int, seconds: float) -> dict[str, float]:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    with database.write_transaction(database.create_engine(url)) as connection:
        connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    start_at = time.time() + 3  # after every process has imported and connected
    workers = [
        spawn.Process(target=_writer, args=(url, file_lock, start_at, seconds, out))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    latencies = sorted(value for _ in workers for value in out.get())
    for worker in workers:
        worker.join()
    return {
        "per_s": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(0.99 * len(latencies))],
        "max_ms": latencies[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    print(
        f"machine: {len(os.sched_getaffinity(0))} cores; {dt.date.today().isoformat()}; "
        f"{args.processes} processes, {args.seconds:g} s per run, two runs each"
    )
    print()
    print("| writers meet at | transactions/s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for file_lock in (False, True, False, True):
        result = measure(file_lock, args.processes, args.seconds)
        name = "the file lock" if file_lock else "SQLite's busy handler"
        print(
            f"| {name} | {result['per_s']:.0f} | {result['p50_ms']:.1f} "
            f"| {result['p99_ms']:.1f} | {result['max_ms']:.1f} |"
        )


if __name__ == "__main__":
    main()
