"""A real `mizan serve` for tests that need HTTP over a socket: its own SQLite file, the tests'
Redis, keys made with the real CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from service.settings import Settings
from tests.service.policies import without_account_actions

CLI = [sys.executable, "-m", "service.cli", "-q"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    base: str
    env: dict[str, str]
    pid: int  # the `mizan serve` supervisor

    def create_key(self, *roles: str, name: str = "test") -> str:
        """A new key, made by `mizan keys create`; the key is printed once, on stdout only."""
        role_args = [arg for role in roles for arg in ("--role", role)]
        created = subprocess.run(
            [*CLI, "keys", "create", "--name", name, *role_args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = created.stdout.strip()
        assert key.startswith("mz_")
        assert key not in created.stderr
        return key


@contextmanager
def served(
    folder: Path,
    redis_url: str,
    workers: int = 2,
    log: Path | None = None,
    quiet: bool = True,
    **settings: str,
) -> Iterator[Served]:
    """`mizan serve` on a free port until the block ends; ``settings`` are MIZAN_* values
    (default database: an SQLite file in ``folder``); its output goes to ``log`` if given
    (warnings only if ``quiet``: `mizan -q`)."""
    port = free_port()
    policy = folder / "policy.toml"  # no account actions, as in the settings fixture
    policy.write_text(without_account_actions(Settings().policy_file), encoding="utf-8")
    env = {
        **os.environ,
        "MIZAN_STATE_DIR": str(folder / "state"),
        "MIZAN_DATABASE_URL": f"sqlite:///{folder / 'served.db'}",
        "MIZAN_REDIS_URL": redis_url,
        "MIZAN_PORT": str(port),
        "MIZAN_AUDIT_SHARE": "0",  # sampling is random: tests of audits turn it on
        "MIZAN_POLICY_FILE": str(policy),
        "MIZAN_WORKERS": str(workers),
        **{f"MIZAN_{name.upper()}": value for name, value in settings.items()},
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    output = log.open("wb") if log else None
    process = subprocess.Popen(
        [*(CLI if quiet else CLI[:-1]), "serve"],
        env=env,
        start_new_session=True,
        stdout=output,
        stderr=output,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield Served(base, env, process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if output:
            output.close()


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Until the server at ``base`` answers /readyz with 200; fails if it exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.2)
