"""The SQL engine and schema migrations, for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode (readers never block the writer) with synchronous=NORMAL (a commit is
durable once the WAL is checkpointed; a power cut can lose the last transactions, not corrupt
the file) and a busy timeout. Write transactions start with BEGIN IMMEDIATE: a deferred
transaction that reads and then writes can fail with "database is locked" when two of them
upgrade at once, which no timeout resolves.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from service.errors import ServiceUnavailableError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, pool_size=16, max_overflow=16, pool_timeout=60, json_serializer=json_text
        )
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(
        url, pool_size=16, max_overflow=16, pool_pre_ping=True, json_serializer=json_text
    )


def json_text(value: object) -> str:
    """A JSON column's text. orjson: a scored video writes four JSON values (scores,
    thresholds, evidence, an event's data), which json.dumps made about five times slower
    (bench/scoring_parts.py).
    What orjson refuses (a lone surrogate, an integer past 64 bits) json still writes, as
    it did before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module; _sqlite_on_begin issues BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(connection: sa.Connection) -> None:
    mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
    connection.exec_driver_sql(f"BEGIN {mode}")


# SQLite admits one writer at a time. Threads of one process queue on this lock, in order,
# instead of on SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and so
# turned 32 concurrent requests into second-long tails. Other processes still meet at
# SQLite's lock, but there is then at most one contender per process.
_SQLITE_WRITER = threading.Lock()


@contextlib.contextmanager
def _writer_file_lock(engine: sa.Engine) -> Iterator[None]:
    """One writer at a time among processes: an flock on a file beside the database, so a
    writer waiting on another worker process goes ahead the moment that one commits, instead
    of in SQLite's busy-handler sleeps of 1 to 100 ms, which under two workers made writes'
    p99 about 15 times their median (bench/sqlite_writers.py). Processes that do not take it
    still meet at SQLite's own lock; so do in-memory and ``file:`` URI databases, which have
    no lock file. Opened per transaction (microseconds), so no descriptor outlives its use or
    is inherited by a forked child."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    try:
        # 0o666 less the umask: the same mode SQLite gives its -wal and -shm files
        lock_file = os.open(
            f"{os.path.abspath(database)}-writer.lock", os.O_RDWR | os.O_CREAT, 0o666
        )
    except OSError as exc:  # e.g. a folder we may write the database in but not create files
        _warn_once(database, exc)
        yield
        return
    try:
        _flock_within(lock_file, SQLITE_BUSY_TIMEOUT_MS / 1000)
        yield
    finally:
        os.close(lock_file)  # releases the lock


def _flock_within(lock_file: int, timeout_s: float) -> None:
    """Take the lock, trying every 0.05-0.5 ms (a blocking flock cannot time out in a thread);
    past ``timeout_s`` the database counts as unavailable (503), as SQLite's busy timeout
    would have made it, so a process stuck inside a write cannot hang every other writer."""
    deadline = time.monotonic() + timeout_s
    pause = 0.00005
    while True:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise ServiceUnavailableError(
                    f"another process has held the database's writer lock for {timeout_s:g} s"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.0005)


_WARNED: set[str] = set()


def _warn_once(database: str, exc: OSError) -> None:
    if database not in _WARNED:
        _WARNED.add(database)
        log.warning(
            "database.writer_lock_unavailable",
            extra={"detail": f"{type(exc).__name__}: writers meet at SQLite's lock only"},
        )


BEFORE_COMMIT = "mizan.before_commit"  # connection.info key: hooks run just before COMMIT


def before_commit(connection: sa.Connection, hook: Callable[[sa.Connection], None]) -> None:
    """Run ``hook`` once, as the last statements of this write transaction (if it commits).
    Work that locks shared rows goes here, so the locks are held for the least time and are
    always taken after the transaction's own rows (no lock-order deadlocks on PostgreSQL)."""
    if not connection.info.get(WRITING):
        raise RuntimeError("before_commit needs a connection from write_transaction")
    hooks: list[Callable[[sa.Connection], None]] = connection.info.setdefault(BEFORE_COMMIT, [])
    if hook not in hooks:
        hooks.append(hook)


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: serialised up front on SQLite, ordinary on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        with (
            _SQLITE_WRITER,
            engine.connect().execution_options(write=True) as connection,
            _writer_file_lock(engine),  # after connect: never held while waiting for the pool
            connection.begin(),
        ):
            yield from _with_hooks(connection)
        return
    with engine.connect() as connection, connection.begin():
        yield from _with_hooks(connection)


WRITING = "mizan.writing"  # connection.info key: inside write_transaction


def _with_hooks(connection: sa.Connection) -> Iterator[sa.Connection]:
    connection.info[WRITING] = True
    try:
        yield connection
        for hook in connection.info.get(BEFORE_COMMIT, []):
            hook(connection)
    finally:
        # pooled connections keep .info: nothing of this transaction may leak into the next
        for key in [key for key in connection.info if str(key).startswith("mizan.")]:
            del connection.info[key]


def dialect_insert(dialect: str) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe to run at every start)."""
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
