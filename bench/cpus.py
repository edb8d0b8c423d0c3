"""Keeping a benchmark's server apart from its load generator on one machine, and reading
what processes spent.

A service measured with the load generator (and a PostgreSQL server) on the same cores pays
for their CPU too; a second machine for the client is the usual cure. On one machine the
next best thing is CPU affinity: the server (and the scorer alone it is compared with) on
some cores, the client and the database backends on the others (bench/pg_backends.py).

Linux only (sched_setaffinity, taskset, /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse_cpu_list(text: str) -> frozenset[int]:
    """ "0", "0,1" or "0-2" -> the CPUs; each must be one this process may run on."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            first, _, last = part.partition("-")
            cpus.update(range(int(first), int(last or first) + 1))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a CPU list: {text!r}") from exc
    allowed = os.sched_getaffinity(0)
    if not cpus or not cpus <= allowed:
        raise argparse.ArgumentTypeError(f"CPUs {sorted(cpus)} are not among {sorted(allowed)}")
    return frozenset(cpus)


def move_client_off(server_cpus: frozenset[int] | None) -> frozenset[int] | None:
    """Move this process (the client, and whatever it starts) onto the CPUs the server does
    not use; those CPUs, or None when there is no server set to keep apart from."""
    if server_cpus is None:
        return None
    client_cpus = frozenset(os.sched_getaffinity(0) - server_cpus)
    if not client_cpus:
        raise SystemExit("--server-cpus leaves no CPU for the client")
    os.sched_setaffinity(0, client_cpus)
    return client_cpus


def on_cpus(command: list[str], cpus: frozenset[int] | None) -> list[str]:
    """``command`` started on ``cpus`` only (taskset), or as it is for None. Its children
    inherit the affinity: uvicorn's and `mizan serve`'s workers stay there too."""
    if cpus is None:
        return command
    return ["taskset", "-c", ",".join(map(str, sorted(cpus))), *command]


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (field 3 on), None for a process gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_s(fields: list[str]) -> float:
    """User plus system CPU seconds from `stat_fields`."""
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_by_pid(pids: set[int]) -> dict[int, float]:
    """CPU seconds used so far by each live process among ``pids``."""
    seconds = {}
    for pid in pids:
        fields = stat_fields(pid)
        if fields is not None:
            seconds[pid] = cpu_s(fields)
    return seconds


def cpu_by_group(group: int) -> dict[int, float]:
    """CPU seconds of each live process of a process group, by pid."""
    seconds = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None and int(fields[2]) == group:  # pgrp
                seconds[int(entry.name)] = cpu_s(fields)
    return seconds


def command_name(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return ""
