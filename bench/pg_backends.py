"""The PostgreSQL backends serving a benchmarked service: found by application_name, kept on
given CPUs, their CPU time read, and the schema's tables analyzed.

Only for a server on this host (its backends are processes here); the postmaster, WAL
writer and checkpointer are not moved, only the backends that serve the service.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench import cpus

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def is_local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOCAL_HOSTS


class Backends:
    """The backends whose application_name is ``application_name``, asked over one
    connection of this script's own (named otherwise, so it is not one of them)."""

    def __init__(self, url: str, application_name: str) -> None:
        if not is_local(url):
            raise ValueError(f"backends of {urlsplit(url).hostname} are not processes here")
        self._engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        self._connection = self._engine.connect()
        self._name = application_name
        self._lock = threading.Lock()  # one connection, shared with the pinning thread

    def __enter__(self) -> Backends:
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()
        self._engine.dispose()

    def pids(self) -> set[int]:
        with self._lock:
            found = self._connection.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": self._name},
            ).scalars()
            pids = set(found)
            self._connection.rollback()  # no snapshot held between calls
        # a pid of another namespace's server would name some other process here
        return {pid for pid in pids if cpus.command_name(pid).startswith("postgres")}

    def cpu_s(self, before: dict[int, float] | None = None) -> tuple[float, dict[int, float]]:
        """CPU seconds the backends used since ``before`` (a reading this returned), and
        the new reading. A backend opened meanwhile counts from zero; one that ended
        meanwhile is lost from both readings (a pool keeps its connections open)."""
        now = cpus.cpu_by_pid(self.pids() | set(before or {}))
        if before is None:
            return 0.0, now
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items()), now

    @contextmanager
    def kept_on(self, on: frozenset[int] | None, every_s: float = 0.5) -> Iterator[None]:
        """While in the block, the backends run on ``on``: checked every ``every_s``, since
        a pool may open a connection at any time. A failure stops the run, at the block's end."""
        if on is None:
            yield
            return
        stop = threading.Event()
        failed: list[BaseException] = []

        def keep() -> None:
            try:
                while not stop.is_set():
                    for pid in self.pids():
                        with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                            os.sched_setaffinity(pid, on)
                    stop.wait(every_s)
            except BaseException as exc:  # handed to the main thread, which raises it
                failed.append(exc)

        thread = threading.Thread(target=keep, name="pin-backends", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        if failed:
            raise RuntimeError("keeping the database backends on their CPUs failed") from failed[0]


def analyze(url: str, schema: str) -> None:
    """ANALYZE every table of ``schema``."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            quote = connection.dialect.identifier_preparer.quote
            tables = connection.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                {"schema": schema},
            ).scalars()
            for table in list(tables):
                connection.execute(sa.text(f"ANALYZE {quote(schema)}.{quote(table)}"))
    finally:
        engine.dispose()
