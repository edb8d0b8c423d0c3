"""The decision log on SQLite and PostgreSQL: events and state in one transaction."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from classifier import Video
from service.database import json_text
from service.decision_log import DecisionLog
from service.domain import Action, EventType, Status, Upload, Visibility
from service.errors import ConflictError, NotFoundError
from service.scoring_write import ScoringRecord
from service.tables import UTCDateTime, metadata

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
        model_version="1.0.2",
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
    assert all(e.actor == "model:1.0.2" for e in log.history("v1"))
    assert log.decision(decision.decision_id) == decision


def test_decisions_and_events_get_time_ordered_ids(engine: sa.Engine) -> None:
    """UUIDv7 (service/ids.py): each index on them is appended to, not written all over."""
    log = DecisionLog(engine)
    decision_ids, event_ids = [], []
    for index in range(5):
        [(decision, _)], _ = log.record_scorings([record(f"v{index}", action=Action.REMOVE)], NOW)
        decision_ids.append(decision.decision_id)
        event_ids.append([event.event_id for event in log.history(f"v{index}")])
        time.sleep(0.002)  # the next scoring in a later millisecond
    everything = decision_ids + [i for ids in event_ids for i in ids]
    assert {uuid.UUID(i).version for i in everything} == {7}
    assert decision_ids == sorted(decision_ids)
    # a scoring's two events share their millisecond: each scoring's after the one's before
    assert all(max(earlier) < min(later) for earlier, later in itertools.pairwise(event_ids))


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


def test_one_write_of_many_videos_gives_each_its_own_outcome(engine: sa.Engine) -> None:
    """A batch is written a table at a time; each video still ends as if written alone."""
    log = DecisionLog(engine, webhooks=True)
    log.record_scorings([record("a", "first", Action.REVIEW), record("b")], NOW)
    later = NOW + dt.timedelta(hours=1)
    batch = [
        record("d", action=Action.REVIEW),
        record("c", "bad", Action.REMOVE),
        record("b"),  # the same content again: its first decision, nothing written
        record("a", "edited"),  # was waiting for review: its item is superseded
        record("e", "worse", Action.REMOVE),
    ]
    logged, effects = log.record_scorings(batch, later)
    assert [(d.video_id, is_new) for d, is_new in logged] == [
        ("d", True),
        ("c", True),
        ("b", False),
        ("a", True),
        ("e", True),
    ]
    assert [d.revision for d, _ in logged] == [1, 1, 1, 2, 1]
    assert [d.action for d, _ in logged] == [
        Action.REVIEW,
        Action.REMOVE,
        Action.ALLOW,
        Action.ALLOW,
        Action.REMOVE,
    ]
    for decision, _ in logged:
        assert log.decision(decision.decision_id) == decision
        state = log.current(decision.video_id)
        assert state is not None
        assert (state.decision_id, state.revision) == (decision.decision_id, decision.revision)
    assert [e.type for e in log.history("a")] == [
        EventType.SCORED,
        EventType.QUEUED_FOR_REVIEW,
        EventType.SUPERSEDED,
        EventType.SCORED,
    ]
    assert [e.type for e in log.history("c")] == [EventType.SCORED, EventType.AUTO_REMOVED]
    assert [e.type for e in log.history("d")] == [EventType.SCORED, EventType.QUEUED_FOR_REVIEW]
    assert (len(effects.closed), len(effects.queue)) == (1, 1)  # a's item closed, d's opened
    assert len(effects.deliveries) == 2  # one "removed" webhook each for c and e
    assert log.count_rows() == {
        "events": 3 + 2 + 2 + 2 + 2,  # before (a: 2, b: 1); a superseded + scored; c, d, e
        "decisions": 6,
        "videos": 5,
        "reports": 0,
        "contents": 6,
    }


def test_the_same_video_twice_in_one_write_is_refused_and_nothing_written(
    engine: sa.Engine,
) -> None:
    log = DecisionLog(engine)
    with pytest.raises(ValueError, match="twice"):
        log.record_scorings([record("v1"), record("v2"), record("v1", "edited")], NOW)
    assert log.count_rows()["decisions"] == 0


def test_concurrent_batches_over_the_same_videos_make_one_decision_each(
    engine: sa.Engine,
) -> None:
    """Batches in opposite orders over the same videos, first writes and edits: one decision
    per video and revision, no deadlock (PostgreSQL locks the rows in video_id order)."""
    log = DecisionLog(engine)
    names = [f"v{i}" for i in range(6)]
    log.record_scorings([record(name) for name in names[:3]], NOW)  # three exist, three new
    barrier = threading.Barrier(6)

    def write(turn: int) -> list[str]:
        order = names if turn % 2 else names[::-1]
        barrier.wait()
        logged, _ = log.record_scorings([record(name, "edited") for name in order], NOW)
        return sorted(decision.decision_id for decision, _ in logged)

    with ThreadPoolExecutor(6) as pool:
        answers = set(map(tuple, pool.map(write, range(6))))
    assert len(answers) == 1  # every writer was told the same six decisions
    assert log.count_rows()["decisions"] == 3 + 6
    for name in names:
        state = log.current(name)
        assert state is not None
        assert state.revision == (2 if name in names[:3] else 1)


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


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2023, 3, 1, 17, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))),  # Karachi
        dt.datetime(2026, 12, 3, 13, 27, 51, 128559, tzinfo=dt.UTC),
        dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC),  # a year of three digits, padded
    ],
)
def test_sqlite_stores_sqlalchemys_own_datetime_text(moment: dt.datetime) -> None:
    """UTCDateTime formats SQLite's text itself (the scoring path binds five a video): it must
    be SQLAlchemy DATETIME's text to the character, or rows written before and after would
    not sort and compare as one column."""
    dialect = sa.create_engine("sqlite://").dialect
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None
    assert theirs is not None
    expected = theirs(moment.astimezone(dt.UTC).replace(tzinfo=None))
    assert ours(moment) == expected
    assert ours(moment) == expected  # again: the kept conversion
    assert ours(None) is None
    with pytest.raises(ValueError, match="naive"):
        ours(moment.replace(tzinfo=None))
    later = moment + dt.timedelta(microseconds=1)  # another moment after it: not the kept text
    assert ours(later) == theirs(later.astimezone(dt.UTC).replace(tzinfo=None))
    assert ours(later) != expected


def test_json_columns_take_what_json_took() -> None:
    """orjson writes the JSON columns; what it refuses, json.dumps writes as it did before."""
    assert json.loads(json_text({"spam": 0.25, 2: [1, None]})) == {"spam": 0.25, "2": [1, None]}
    assert json_text({"note": "\ud800"}) == json.dumps({"note": "\ud800"})  # a lone surrogate
    assert json.loads(json_text(2**70)) == 2**70


def test_an_upload_with_its_language_keeps_every_other_field() -> None:
    """Upload.with_language builds the copy field by field (dataclasses.replace is slow on
    the scoring path): a field added to Upload must be added there too, which this notices."""
    upload = Upload(
        "v1", "c1", "PK", None, dt.datetime(2023, 3, 1, tzinfo=dt.UTC), Video("t"), 12.5
    )
    assert [f.name for f in fields(Upload)] == [
        "video_id",
        "creator_id",
        "region",
        "language",
        "uploaded_at",
        "content",
        "duration_s",
    ], "a new field: copy it in Upload.with_language, then list it here"
    assert upload.with_language("ur") == replace(upload, language="ur")
