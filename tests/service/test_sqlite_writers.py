"""SQLite writers in several processes take turns on a file lock, not in busy-handler sleeps."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.database import _flock_within, create_engine, write_transaction
from service.errors import ServiceUnavailableError

HOLD_A_WRITE = textwrap.dedent(
    """
    import sys, time
    from service.database import create_engine, write_transaction
    engine = create_engine(sys.argv[1])
    with write_transaction(engine) as connection:
        connection.exec_driver_sql("INSERT INTO t (v) VALUES ('from the other process')")
        print("writing", flush=True)
        sys.stdin.readline()  # until the test says so
    print("committed", flush=True)
    """
)


@contextlib.contextmanager
def _writer_in_another_process(url: str) -> Iterator[subprocess.Popen[str]]:
    """A process inside a write transaction (once it has printed "writing") until told "go"."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_A_WRITE, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        try:
            assert other.stdout is not None
            assert other.stdout.readline().strip() == "writing"
            yield other
        finally:
            other.kill()


def _go(other: subprocess.Popen[str]) -> None:
    assert other.stdin is not None
    other.stdin.write("go\n")
    other.stdin.flush()


def _lock_is_free(lock_path: Path) -> bool:
    descriptor = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # closing drops a lock taken here
    return True


def test_a_write_in_another_process_holds_the_file_lock_until_it_commits(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = create_engine(url)
    with write_transaction(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE t (v TEXT)")
    lock_path = tmp_path / "log.db-writer.lock"
    assert _lock_is_free(lock_path)  # made by the first write, released at its commit

    with _writer_in_another_process(url) as other:
        assert not _lock_is_free(lock_path)
        _go(other)
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "committed"
        assert other.wait(timeout=30) == 0
    assert _lock_is_free(lock_path)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT v FROM t").scalars().all() == [
            "from the other process"
        ]


def test_a_write_waits_for_the_other_process_then_goes_ahead(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = create_engine(url)
    with write_transaction(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE t (v TEXT)")
    with _writer_in_another_process(url) as other:
        # the other writer is let go from a thread while this one waits on the lock
        release = threading.Timer(0.5, _go, [other])
        release.start()
        with write_transaction(engine) as connection:
            connection.exec_driver_sql("INSERT INTO t (v) VALUES ('from this process')")
        release.join()
        assert other.wait(timeout=30) == 0
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT v FROM t ORDER BY rowid").scalars().all()
    assert rows == ["from the other process", "from this process"]


def test_a_writer_lock_held_too_long_makes_the_database_unavailable(tmp_path: Path) -> None:
    lock_path = tmp_path / "log.db-writer.lock"
    holder = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    waiter = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as a process stuck inside its write would
        with pytest.raises(ServiceUnavailableError, match="writer lock"):
            _flock_within(waiter, timeout_s=0.2)
        fcntl.flock(holder, fcntl.LOCK_UN)
        _flock_within(waiter, timeout_s=0.2)  # free again: taken at once
    finally:
        os.close(holder)
        os.close(waiter)
