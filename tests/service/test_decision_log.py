"""The decision log on SQLite and PostgreSQL: events and state in one transaction."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from classifier import Video
from service.decision_log import DecisionLog, ScoringRecord
from service.domain import Action, EventType, Status, Upload, Visibility
from service.errors import ConflictError, NotFoundError
from service.tables import metadata

NOW = dt.datetime(2023, 3, 1, 12, 0, tzinfo=dt.UTC)


def record(video_id: str, title: str = "hello", action: Action = Action.ALLOW) -> ScoringRecord:
    upload = Upload(video_id, "creator", "PK", "en", NOW, Video(title=title))
    return ScoringRecord(
        upload=upload,
        content=upload.canonical_content(),
        content_hash=upload.content_hash(),
        action=action,
        label=None if action is Action.ALLOW else "spam",
        scores={"spam": 0.9 if action is not Action.ALLOW else 0.1},
        evidence=[],
        thresholds={"spam": {"remove": 0.8, "review": 0.5}},
        model_version="1.0.0",
        policy_version="2023-04-21",
    )


def test_migrations_create_exactly_the_declared_schema(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_a_scoring_writes_decision_events_and_state_together(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    [(decision, is_new)], _ = log.record_scorings([record("v1", action=Action.REMOVE)], NOW)
    assert is_new
    state = log.current("v1")
    assert state is not None
    assert (state.status, state.visibility) == (Status.REMOVED, Visibility.REMOVED)
    assert state.removed_at == NOW
    assert state.views_at_removal == 0
    assert state.uploaded_at == NOW
    assert [e.type for e in log.history("v1")] == [EventType.SCORED, EventType.AUTO_REMOVED]
    assert all(e.actor == "model:1.0.0" for e in log.history("v1"))
    assert log.decision(decision.decision_id) == decision


def test_same_content_returns_the_first_decision_and_writes_nothing(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    [(first, _)], _ = log.record_scorings([record("v1")], NOW)
    before = log.count_rows()
    [(again, is_new)], _ = log.record_scorings([record("v1")], NOW + dt.timedelta(hours=1))
    assert (again, is_new) == (first, False)
    assert log.count_rows() == before


def test_edited_content_is_a_new_revision(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    log.record_scorings([record("v1", "first")], NOW)
    [(second, is_new)], _ = log.record_scorings([record("v1", "second", Action.REVIEW)], NOW)
    assert is_new
    assert second.revision == 2
    state = log.current("v1")
    assert state is not None
    assert (state.revision, state.status) == (2, Status.PENDING_REVIEW)


def test_a_removed_video_is_not_rescored_and_a_batch_is_all_or_nothing(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    log.record_scorings([record("v1", "bad", Action.REMOVE)], NOW)
    before = log.count_rows()
    with pytest.raises(ConflictError):
        log.record_scorings([record("v2"), record("v1", "edited")], NOW)
    assert log.count_rows() == before  # v2 was not written either
    assert log.current("v2") is None


def test_concurrent_duplicates_make_one_decision(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    barrier = threading.Barrier(8)

    def write(_: int) -> str:
        barrier.wait()
        [(decision, _)], _ = log.record_scorings([record("v1")], NOW)
        return decision.decision_id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(write, range(8)))
    assert len(ids) == 1
    assert log.count_rows()["decisions"] == 1
    assert len(log.history("v1")) == 1


def test_views_only_grow(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    log.record_scorings([record("v1")], NOW)
    assert log.record_views("v1", 10, "pipeline", NOW)[0].views == 10
    assert log.record_views("v1", 5, "pipeline", NOW)[0].views == 10  # stale count: no change
    events = [e for e in log.history("v1") if e.type is EventType.VIEWS_UPDATED]
    assert [e.data["views"] for e in events] == [10]
    with pytest.raises(NotFoundError):
        log.record_views("nope", 1, "pipeline", NOW)


def test_views_at_removal_come_from_the_views_before_it(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    log.record_scorings([record("v1", "first")], NOW)
    log.record_views("v1", 42, "pipeline", NOW)
    log.record_scorings([record("v1", "edited into spam", Action.REMOVE)], NOW)
    state = log.current("v1")
    assert state is not None
    assert state.views_at_removal == 42


def test_a_reporter_counts_once(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    log.record_scorings([record("v1")], NOW)
    state, counted, _ = log.record_report("v1", "u1", "spam", "pipeline", NOW)
    assert (state.reports, counted, state.first_reported_at) == (1, True, NOW)
    later = NOW + dt.timedelta(hours=1)
    state, counted, _ = log.record_report("v1", "u1", "spam again", "pipeline", later)
    assert (state.reports, counted) == (1, False)
    state, counted, _ = log.record_report("v1", "u2", "abuse", "pipeline", later)
    assert (state.reports, counted, state.first_reported_at) == (2, True, NOW)
    reported = [e for e in log.history("v1") if e.type is EventType.USER_REPORTED]
    assert [e.data["reporter_id"] for e in reported] == ["u1", "u2"]
    with pytest.raises(NotFoundError):
        log.record_report("nope", "u1", "x", "pipeline", NOW)


def test_timestamps_come_back_aware_and_utc(engine: sa.Engine) -> None:
    log = DecisionLog(engine)
    karachi = dt.timezone(dt.timedelta(hours=5))
    upload = Upload(
        "v1", "c", "PK", "ur", dt.datetime(2023, 3, 1, 17, 0, tzinfo=karachi), Video(title="x")
    )
    log.record_scorings(
        [replace(record("v1"), upload=upload, content_hash=upload.content_hash())], NOW
    )
    state = log.current("v1")
    assert state is not None
    assert state.uploaded_at == dt.datetime(2023, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert state.uploaded_at.tzinfo is not None
