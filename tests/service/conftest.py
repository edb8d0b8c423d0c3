"""Real services for the service tests: SQLite files, PostgreSQL, Redis, the committed model.

- SQLite: a fresh file per test.
- PostgreSQL: when MIZAN_TEST_DATABASE_URL is set (.ci/run always sets it), every database
  test also runs there, in a fresh schema; a server that does not answer fails the run.
- Redis: see tests/conftest.py (emptied before each test that uses it).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from redis import Redis

from classifier import OnnxScorer
from service import wiring
from service.app import create_app
from service.database import create_engine, migrate
from service.domain import Role, Upload
from service.keys import KeyStore
from service.model_registry import fixed_lineup
from service.models import load_active
from service.moderation import Moderation
from service.routes.videos import to_upload
from service.schemas import VideoIn
from service.settings import Settings
from tests.conftest import MODELS_DIR
from tests.service.policies import without_account_actions

POSTGRES_URL = os.environ.get("MIZAN_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mizan.db'}"
        return
    assert POSTGRES_URL
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:  # fails loudly when the server does not answer
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def quiet_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.toml"
    path.write_text(without_account_actions(Settings().policy_file), encoding="utf-8")
    return path


@pytest.fixture
def settings(
    database_url: str, redis: Redis, redis_url: str, tmp_path: Path, quiet_policy: Path
) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        database_url=database_url,
        redis_url=redis_url,
        audit_share=0.0,  # sampling is random: the audit tests turn it on
        policy_file=quiet_policy,  # no account actions: see without_account_actions
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


KeyMaker = Callable[..., dict[str, str]]


@pytest.fixture
def make_key(client: TestClient) -> KeyMaker:
    """Headers for a new key with the given roles (created through the app's own key store)."""

    def make(*roles: Role, languages: tuple[str, ...] = ("en", "ur", "ur-Latn")) -> dict[str, str]:
        store: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
        _, plaintext = store.create("test", roles, languages, dt.datetime.now(dt.UTC))
        return {"Authorization": f"Bearer {plaintext}"}

    return make


@pytest.fixture
def uploader(make_key: KeyMaker) -> dict[str, str]:
    return make_key(Role.UPLOADER)


def video(video_id: str = "v1", **fields: object) -> dict[str, object]:
    """A valid video body; keyword arguments replace fields."""
    body: dict[str, object] = {
        "video_id": video_id,
        "creator_id": "creator-1",
        "region": "PK",
        "uploaded_at": "2023-03-01T10:00:00+05:00",
        "title": "Chicken karahi recipe",
        "description": "Lahore style, with fresh tomatoes",
        "hashtags": ["#PakistaniFood"],
        "transcript": "today we cook chicken karahi with ginger and green chillies",
    }
    body.update(fields)
    return body


SPAM = {
    "title": "FREE iPhone giveaway",
    "description": "click the link to claim your prize, send your number",
    "hashtags": ["#Giveaway"],
    "transcript": [{"start_s": 0, "end_s": 5, "text": "text WIN to 80082 now to win cash"}],
}


MISINFORMATION = {
    "title": "The truth they hide",
    "transcript": "garlic water cures covid in two days, the vaccine has a microchip",
}
START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class Clock:
    """The injected clock the use cases read; tests move it forward."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def scorer() -> OnnxScorer:
    return load_active(MODELS_DIR)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def parts(settings: Settings, clock: Clock) -> Iterator[wiring.Parts]:
    built = wiring.build(settings, clock=clock, migrate_schema=True)
    yield built
    built.close()


@pytest.fixture
def moderation(parts: wiring.Parts, scorer: OnnxScorer) -> Moderation:
    return Moderation(
        parts.decision_log,
        fixed_lineup(scorer),
        parts.policy,
        clock=parts.clock,
        dispatch=parts.dispatcher.apply,
    )


def upload(video_id: str, **fields: object) -> Upload:
    return to_upload(VideoIn.model_validate(video(video_id, **fields)))
