"""insert_rows stores exactly what SQLAlchemy's own executemany stores, on both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from service.bulk_insert import insert_rows
from service.tables import decisions, events

KARACHI = dt.timezone(dt.timedelta(hours=5))
WHEN = dt.datetime(2023, 3, 1, 17, 0, 0, 123456, tzinfo=KARACHI)


def event(n: int, prefix: str) -> dict[str, object]:
    return {
        "event_id": f"{prefix}-e{n}",
        "video_id": f"{prefix}-v{n}",
        "revision": None if n % 2 else n,
        "type": "scored",
        "region": "PK",
        "language": "ur-Latn",
        "label": None if n % 2 else "spam",
        "actor": "moderator:a\tb\\N",
        "occurred_at": WHEN + dt.timedelta(seconds=n),
        # what COPY escapes: a tab, a newline, a backslash (before N, its NULL, and before a dot)
        "data": {"note": "کراچی\t\n\\N \\.", "none": None, "list": [1, 2.5, True], "n": n},
    }


def decision(n: int, prefix: str) -> dict[str, object]:
    return {
        "decision_id": f"{prefix}-d{n}",
        "video_id": f"{prefix}-v{n}",
        "revision": 1,
        "content_hash": "0" * 64,
        "action": "allow",
        "status": "active",
        "visibility": "public",
        "label": None,
        "scores": {"spam": 0.1 * n, "hate_speech": 1e-9},
        "evidence": [] if n % 2 else [{"label": "spam", "start_s": None, "score": 0.5}],
        "thresholds": {"spam": {"remove": None, "review": 0.4}},
        "model_version": "1.0.2",
        "policy_version": "2023-04-21",
        "decided_at": WHEN,  # the same moment for every row, as in a scoring round
    }


@pytest.mark.parametrize(("table", "make_row"), [(events, event), (decisions, decision)])
def test_rows_are_stored_as_sqlalchemy_stores_them(
    engine: sa.Engine, table: sa.Table, make_row: Callable[[int, str], dict[str, object]]
) -> None:
    theirs = [make_row(n, "theirs") for n in range(3)]
    ours = [make_row(n, "ours") for n in range(3)]
    with engine.begin() as connection:
        connection.execute(table.insert(), theirs)
        insert_rows(connection, table, ours)
        insert_rows(connection, table, [])  # nothing to write: no statement
    columns = [c.name for c in table.columns if c.name not in ("sequence",)]
    with engine.connect() as connection:  # the driver's own values: no SQLAlchemy conversion
        stored = connection.exec_driver_sql(
            f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {columns[0]}"
        ).all()
    by_prefix: dict[str, list[tuple[object, ...]]] = {"ours": [], "theirs": []}
    for row in stored:
        prefix = str(row[0]).split("-")[0]
        by_prefix[prefix].append(tuple(str(v).replace(prefix, "") for v in row))
    assert len(by_prefix["ours"]) == 3
    assert by_prefix["ours"] == by_prefix["theirs"]


def test_a_refused_row_raises_sqlalchemys_error_and_writes_nothing(engine: sa.Engine) -> None:
    """A key already taken is SQLAlchemy's IntegrityError on both databases (on PostgreSQL the
    rows go through COPY, outside SQLAlchemy's own wrapping): what the decision log retries
    on when a concurrent write of the same new video won."""
    with engine.begin() as connection:
        insert_rows(connection, events, [event(1, "first")])
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        insert_rows(connection, events, [event(2, "first"), event(1, "first")])
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT event_id FROM events").scalars().all()
    assert stored == ["first-e1"]


def test_on_postgresql_two_rows_or_more_go_as_a_copy(engine: sa.Engine) -> None:
    """What goes through SQLAlchemy's cursor: on PostgreSQL a single row as an INSERT (one
    wait for the server, where a COPY has two) and more rows as a COPY, which SQLAlchemy does
    not see; on SQLite always the INSERT."""
    inserts: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("INSERT"):  # not SQLite's BEGIN (service.database)
            inserts.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.begin() as connection:
            insert_rows(connection, events, [event(1, "one")])
            insert_rows(connection, events, [event(n, "many") for n in range(2, 5)])
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    copied = engine.dialect.name == "postgresql"
    assert len(inserts) == (1 if copied else 2)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM events").scalar() == 4


def test_copied_rows_go_back_with_their_transaction(engine: sa.Engine) -> None:
    """The COPY as a transaction's first statement, and a later statement failing: nothing
    of either is kept."""

    def copy_then_fail() -> None:
        with engine.begin() as connection:
            insert_rows(connection, events, [event(n, "gone") for n in range(3)])
            insert_rows(connection, events, [event(7, "taken"), event(7, "taken")])

    with pytest.raises(sa.exc.IntegrityError):
        copy_then_fail()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM events").scalar() == 0


def test_rows_written_on_a_plain_connection_are_kept_by_its_commit(engine: sa.Engine) -> None:
    """No transaction begun yet (SQLAlchemy begins one at a statement of its own; the COPY
    begins it the same way), then commit as you go."""
    with engine.connect() as connection:
        insert_rows(connection, events, [event(n, "plain") for n in range(3)])
        connection.commit()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM events").scalar() == 3
