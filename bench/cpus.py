"""Keeping a benchmark's server apart from its load generator on one machine.

A service measured with the load generator (and a PostgreSQL server) on the same cores pays
for their CPU too; a second machine for the client is the usual cure. On one machine the
next best thing is CPU affinity: the server (and the scorer alone it is compared with) on
some cores, the client and the database server on the others.

Linux only (os.sched_setaffinity); PostgreSQL backends are found by their application_name.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse(text: str) -> frozenset[int]:
    """ "0", "0,1" or "0-2" -> the CPUs; each must be one this process may run on."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    allowed = os.sched_getaffinity(0)
    if not cpus or not cpus <= allowed:
        raise ValueError(f"CPUs {sorted(cpus)} are not a subset of {sorted(allowed)}")
    return frozenset(cpus)


def pinned_to(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """A Popen preexec_fn that moves the child onto ``cpus`` (None: leave it where it is)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def backend_pids(url: str, application_name: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": application_name},
                ).scalars()
            )
    finally:
        engine.dispose()


def process_cpu_s(pids: list[int]) -> float:
    """CPU seconds used so far by the live processes among ``pids``."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


@contextmanager
def backends_kept_on(
    url: str, application_name: str, cpus: frozenset[int] | None, every_s: float = 0.5
) -> Iterator[None]:
    """While in the block, PostgreSQL backends serving ``application_name`` run on ``cpus``:
    checked every ``every_s``, since a pool may open a connection at any time."""
    if cpus is None:
        yield
        return
    stop = threading.Event()

    def keep() -> None:
        while not stop.is_set():
            for pid in backend_pids(url, application_name):
                with contextlib.suppress(OSError):  # ended meanwhile
                    os.sched_setaffinity(pid, cpus)
            stop.wait(every_s)

    thread = threading.Thread(target=keep, name="pin-backends", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
