"""SQLite's WAL is checkpointed by a thread of the API's own, not by the commit that fills it.

What a checkpoint did is read where it lands: the database file. A copy of that file alone,
without its -wal, holds a committed row only once a checkpoint has copied it there.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from redis import Redis

from service.app import create_app
from service.database import create_engine, write_transaction
from service.domain import Role
from service.settings import Settings
from service.wal_checkpoints import WalCheckpointer
from tests.service.conftest import video

BLOB_BYTES = 64 * 1024  # a row of this size takes about 17 WAL pages


def _file_alone(database: Path, copy_dir: Path) -> sqlite3.Connection:
    """The database file as a checkpoint left it: a copy without its WAL, read only."""
    copy = copy_dir / f"alone-{time.monotonic_ns()}.db"
    shutil.copyfile(database, copy)
    return sqlite3.connect(f"file:{copy}?mode=ro", uri=True)


def _rows_in_file(database: Path, copy_dir: Path, table: str) -> int:
    try:
        with _file_alone(database, copy_dir) as connection:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.DatabaseError:  # no table yet in the file, or a copy taken mid-checkpoint
        return -1


def _engine_with_blobs(path: Path, *, background_checkpoints: bool) -> sa.Engine:
    engine = create_engine(f"sqlite:///{path}", background_checkpoints=background_checkpoints)
    with write_transaction(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB)")
    return engine


def _write_blobs(engine: sa.Engine, rows: int) -> None:
    for _ in range(rows):
        with write_transaction(engine) as connection:
            connection.exec_driver_sql("INSERT INTO blobs (body) VALUES (?)", (b"x" * BLOB_BYTES,))


@pytest.mark.parametrize("background_checkpoints", [False, True])
def test_a_commit_that_fills_the_wal_checkpoints_only_without_the_thread(
    tmp_path: Path, background_checkpoints: bool
) -> None:
    path = tmp_path / "blobs.db"
    engine = _engine_with_blobs(path, background_checkpoints=background_checkpoints)
    keeping_the_wal = engine.connect()  # the last connection to close would checkpoint
    try:
        _write_blobs(engine, 100)  # about 1,600 pages: past SQLite's 1,000
        in_file = _rows_in_file(path, tmp_path, "blobs")
        if background_checkpoints:
            assert in_file == -1  # not even the table: everything is still in the WAL
        else:
            assert in_file > 0  # the commit past 1,000 pages copied them into the file
    finally:
        keeping_the_wal.close()
        engine.dispose()


def test_a_checkpoint_copies_the_wal_into_the_file_and_stop_copies_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "blobs.db"
    engine = _engine_with_blobs(path, background_checkpoints=True)
    keeping_the_wal = engine.connect()
    checkpoints = WalCheckpointer(engine, interval_s=3600)  # no tick during the test
    checkpoints.start()
    try:
        _write_blobs(engine, 10)
        wal_pages, copied = checkpoints.checkpoint()
        assert wal_pages >= 10 * BLOB_BYTES // 4096
        assert copied == wal_pages
        assert _rows_in_file(path, tmp_path, "blobs") == 10
        _write_blobs(engine, 5)
        assert _rows_in_file(path, tmp_path, "blobs") == 10  # the new rows wait in the WAL
        checkpoints.stop()
        assert not checkpoints.alive
        assert _rows_in_file(path, tmp_path, "blobs") == 15
    finally:
        keeping_the_wal.close()
        engine.dispose()


@pytest.fixture
def sqlite_settings(redis: Redis, redis_url: str, tmp_path: Path, quiet_policy: Path) -> Settings:
    """The service's settings on an SQLite file, checkpointing every 50 ms."""
    return Settings(
        state_dir=tmp_path / "state",
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        redis_url=redis_url,
        policy_file=quiet_policy,
        sqlite_checkpoint_interval_s=0.05,
    )


def test_the_api_checkpoints_its_sqlite_file_on_its_own_thread(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    database = tmp_path / "api.db"
    with TestClient(create_app(sqlite_settings)) as client:
        parts = client.app.state.parts  # type: ignore[attr-defined]
        assert parts.checkpoints is not None
        assert parts.checkpoints.alive
        with parts.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        before = _rows_in_file(database, tmp_path, "decisions")
        response = client.post("/v1/videos/score", json=video("v1"), headers=_uploader(client))
        assert response.status_code == 200
        deadline = time.monotonic() + 10
        while _rows_in_file(database, tmp_path, "decisions") != max(before, 0) + 1:
            assert time.monotonic() < deadline, "no checkpoint copied the decision in 10 s"
            time.sleep(0.05)
        metrics = client.get("/metrics").text
        assert 'mizan_sqlite_checkpoint_seconds_count{outcome="done"}' in metrics


def test_no_checkpoint_thread_when_turned_off_or_on_postgresql(settings: Settings) -> None:
    on_sqlite = settings.effective_database_url().startswith("sqlite")
    if on_sqlite:
        settings = settings.model_copy(update={"sqlite_checkpoint_interval_s": 0})
    with TestClient(create_app(settings)) as client:
        parts = client.app.state.parts  # type: ignore[attr-defined]
        assert parts.checkpoints is None
        if on_sqlite:  # SQLite's own checkpoints, in the commit past 1,000 pages, as before
            with parts.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def _uploader(client: TestClient) -> dict[str, str]:
    store = client.app.state.keys  # type: ignore[attr-defined]
    _, plaintext = store.create("test", (Role.UPLOADER,), ("en",), dt.datetime.now(dt.UTC))
    return {"Authorization": f"Bearer {plaintext}"}
