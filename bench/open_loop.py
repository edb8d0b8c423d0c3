"""An open-loop HTTP load generator: requests at Poisson arrival times, whatever the answers do.

wrk is a closed loop: a connection sends its next request only when the last answer came, so
a slow server is offered less load and its queueing never shows (and with wrk's delay() the
rate actually achieved falls short of the rate asked for). Here each request has a scheduled
send time drawn in advance; it goes out on an idle keep-alive connection (a new one is opened
if none is idle, up to ``max_connections``), and its latency counts from the scheduled time,
so time spent waiting for a connection is part of it (no coordinated omission). It starts
with ``connections`` open (32, the concurrency of the closed-loop runs) and opens more only
when all are busy.

One asyncio process with prebuilt request bytes: at a few hundred requests a second it needs
a few percent of one core, at 2,760 about 40%.

The client's own pauses count as the server's latency, so it keeps none it can avoid: a
finished request's task is let go at once (holding every task of a run made the heap grow
by some 40,000 tasks a run), and Python's cyclic collector is off while requests go out
(run on the collected heap afterwards). Before, its full collections over that heap put the
bare app's p99 at 2,760 requests a second at 7.8, 51.6 and 19.8 ms in three runs; without
them, 4.1, 4.5 and 3.5 ms (BENCHMARKS.md, "The open-loop client's own pauses").

    .venv/bin/python bench/open_loop.py URL --rate 200 --seconds 20 --body FILE --header 'K: V'
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Result:
    offered_rps: float
    achieved_rps: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, float]:
        return {
            "offered_rps": round(self.offered_rps, 1),
            "rps": round(self.achieved_rps, 1),
            "requests": float(self.requests),
            "errors": float(self.errors),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
        }


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes, timeout_s: float) -> int:
        """Send one request, read its whole response; the status code. A keep-alive
        connection the server closed while idle is opened again and the request resent."""
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                return await asyncio.wait_for(self._once(request), timeout_s)
            except (ConnectionError, asyncio.IncompleteReadError, _Closed):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _once(self, request: bytes) -> int:
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise _Closed
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class _Closed(Exception):
    """The server closed the connection before answering (an idle keep-alive timeout)."""


async def run(
    url: str,
    request_for: Callable[[int], bytes],
    *,
    rate: float,
    seconds: float,
    connections: int = 32,
    max_connections: int = 256,
    timeout_s: float = 60.0,
    seed: int = 7,
) -> Result:
    """Offer ``rate`` requests a second for ``seconds``; latency from each scheduled send."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rng = random.Random(seed)
    # first in, first out: requests rotate over every connection, as from many clients,
    # instead of the most recently freed few (which may all reach one worker)
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(_Connection(host, port))
    opened = connections
    latencies: list[float] = []
    errors = 0

    async def one(index: int, scheduled: float) -> None:
        nonlocal opened, errors
        if idle.empty() and opened < max_connections:
            opened += 1
            connection = _Connection(host, port)
        else:  # every connection busy: wait for one; the wait counts in the latency
            connection = await idle.get()
        try:
            status = await connection.exchange(request_for(index), timeout_s)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, _Closed):
            errors += 1
            connection.close()
            idle.put_nowait(connection)  # opened again by its next request
            return
        latencies.append(time.perf_counter() - scheduled)
        if status >= 400:
            errors += 1
        idle.put_nowait(connection)

    in_flight: set[asyncio.Task[None]] = set()  # only until each is done: a small heap
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()  # no collector pause of the client's counted as the server's latency
    try:
        start = time.perf_counter()
        scheduled, index = start, 0
        while scheduled - start < seconds:
            scheduled += rng.expovariate(rate)
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(index, scheduled))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            index += 1
        await asyncio.gather(*in_flight)
        elapsed = time.perf_counter() - start
    finally:
        if collecting:
            gc.enable()
    while not idle.empty():
        idle.get_nowait().close()
    ordered = sorted(latencies) or [0.0]
    return Result(
        offered_rps=index / seconds,
        achieved_rps=len(latencies) / elapsed,
        requests=index,
        errors=errors,
        p50_ms=1000 * statistics.median(ordered),
        p99_ms=1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    )


def post_request(url: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(url)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/v1/videos/score")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--body", type=Path, required=True, help="JSON body sent each time")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    request = post_request(args.url, urlsplit(args.url).path, headers, args.body.read_bytes())
    result = asyncio.run(run(args.url, lambda _: request, rate=args.rate, seconds=args.seconds))
    print(json.dumps(result.as_dict()))


if __name__ == "__main__":
    main()
