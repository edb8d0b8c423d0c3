"""SQLite's WAL checkpoints on a thread of their own, off the scoring thread.

Left to itself, SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages:
that commit copies the WAL's pages into the database file and waits for two fsyncs. In a
worker that commit is the scoring thread's, so every few dozen rounds one round also paid
for a checkpoint while the requests behind it waited (BENCHMARKS.md, "WAL checkpoints off
the scoring thread"). The app's engine turns the automatic checkpoint off
(`database.create_engine(..., background_checkpoints=True)`) and this thread runs a PASSIVE
checkpoint every ``interval_s`` instead: it never waits for a reader or a writer, and the
sqlite3 module lets go of the GIL while it copies and syncs, so requests go on meanwhile.

It also bounds what a power cut can lose (synchronous=NORMAL: a commit is durable once
checkpointed) to about ``interval_s``, where the automatic checkpoint bounded it by pages
only, and a quiet service could go hours between two. `stop` checkpoints once more.
Several worker processes each run one; two checkpoints at once are harmless (one reports
busy and the next tick catches up).
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa

from service import metrics

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints an SQLite engine's WAL every ``interval_s`` on a daemon thread."""

    def __init__(self, engine: sa.Engine, interval_s: float) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError("WAL checkpoints are SQLite's")
        self._engine = engine
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the thread, then checkpoint what the last writes left in the WAL."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.checkpoint()

    def checkpoint(self) -> tuple[int, int]:
        """One PASSIVE checkpoint: (pages in the WAL, pages copied into the database so far);
        (0, 0) when it could not run (another process checkpointing, a database error)."""
        started = time.perf_counter()
        try:
            # the pool's DBAPI connection, outside any transaction (the app's connections run
            # with isolation_level None): a checkpoint cannot run inside one
            connection = self._engine.raw_connection()
            try:
                cursor = connection.cursor()
                busy, wal_pages, copied = cursor.execute(
                    "PRAGMA wal_checkpoint(PASSIVE)"
                ).fetchone()
                cursor.close()
            finally:
                connection.close()  # back to the pool
        except Exception as exc:  # the thread must outlive a bad moment of the database
            log.warning("database.checkpoint_failed", extra={"error": type(exc).__name__})
            metrics.observe_wal_checkpoint("failed", time.perf_counter() - started, 0)
            return 0, 0
        if busy:
            metrics.observe_wal_checkpoint("busy", time.perf_counter() - started, 0)
            return 0, 0
        # -1, -1: the database is not in WAL mode (an in-memory one): nothing to copy
        wal_pages, copied = max(wal_pages, 0), max(copied, 0)
        metrics.observe_wal_checkpoint("done", time.perf_counter() - started, wal_pages)
        return wal_pages, copied

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            self.checkpoint()
