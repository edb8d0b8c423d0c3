"""Several uvicorn worker processes, each on its own SO_REUSEPORT socket, restarted if they die.

Why not ``uvicorn --workers``: its workers share one listening socket, and the kernel hands
new connections to whichever process wakes first. Measured with 32 keep-alive connections on
2 workers: 21 went to one worker and 11 to the other, so one worker queued while the other
idled. With a socket per worker and SO_REUSEPORT, the kernel spreads connections by hash.

A worker that exits (crash, OOM kill, SIGKILL) is started again; SIGTERM or SIGINT to the
supervisor stops them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from types import FrameType

import uvicorn

from service import logs

log = logging.getLogger(__name__)
RESTART_PAUSE_S = 0.5


def _worker(host: str, port: int, log_level: int) -> None:
    # A spawned interpreter starts with logging unconfigured: without this, the app's lines
    # below WARNING were dropped and the rest printed bare, without their fields.
    logs.configure(log_level)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        "service.app:create_app",
        factory=True,
        log_level=log_level,
        log_config=None,  # uvicorn's lines go to the JSON handler above, not its own format
        access_log=False,  # latency is on /metrics; a line per request costs throughput
        backlog=2048,
    )
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(host: str, port: int, workers: int, log_level: int = logging.INFO) -> None:
    """``log_level``: for the workers' own lines and uvicorn's."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited state
    processes: dict[int, multiprocessing.process.BaseProcess] = {}
    stopping = False

    def start(slot: int) -> None:
        process = context.Process(
            target=_worker, args=(host, port, log_level), name=f"worker-{slot}"
        )
        process.start()
        processes[slot] = process
        log.info("worker.started", extra={"slot": slot, "pid": process.pid})

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(workers):
        start(slot)
    while not stopping:
        time.sleep(RESTART_PAUSE_S)
        for slot, process in list(processes.items()):
            if not process.is_alive() and not stopping:
                log.warning(
                    "worker.died",
                    extra={"slot": slot, "pid": process.pid, "exit_code": process.exitcode},
                )
                start(slot)
    for process in processes.values():
        if process.is_alive() and process.pid is not None:
            process.terminate()  # SIGTERM: uvicorn finishes in-flight requests, then exits
    for process in processes.values():
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
