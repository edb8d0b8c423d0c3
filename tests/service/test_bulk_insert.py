"""insert_rows and insert_tables store exactly what SQLAlchemy's own executemany stores, on
both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from service.bulk_insert import insert_rows, insert_tables
from service.tables import decisions, events, review_items

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


def _statements(engine: sa.Engine) -> list[str]:
    """The INSERTs (and CTEs of them) that go through SQLAlchemy's cursor from now on."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith(("INSERT", "WITH")):  # not SQLite's BEGIN (service.database)
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return seen


def test_on_postgresql_rows_of_several_tables_go_as_one_statement(engine: sa.Engine) -> None:
    """On PostgreSQL a single row goes as an INSERT, and more rows, of one table or several,
    as one statement; on SQLite one executemany a table."""
    statements = _statements(engine)
    with engine.begin() as connection:
        insert_rows(connection, events, [event(1, "one")])
        insert_rows(connection, events, [event(n, "many") for n in range(2, 5)])
        insert_tables(
            connection,
            [
                (decisions, [decision(n, "both") for n in range(3)]),
                (review_items, []),  # nothing to write: left out
                (events, [event(n, "both") for n in range(3)]),
            ],
        )
        insert_tables(connection, [(events, [])])  # nothing at all: no statement
    one_statement = engine.dialect.name == "postgresql"
    assert len(statements) == (3 if one_statement else 4)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM events").scalar() == 7
        assert connection.exec_driver_sql("SELECT count(*) FROM decisions").scalar() == 3


def test_several_tables_are_stored_as_sqlalchemy_stores_them(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(decisions.insert(), [decision(n, "theirs") for n in range(3)])
        connection.execute(events.insert(), [event(n, "theirs") for n in range(3)])
        insert_tables(
            connection,
            [
                (decisions, [decision(n, "ours") for n in range(3)]),
                (events, [event(n, "ours") for n in range(3)]),
            ],
        )
    for table in (decisions, events):
        by_prefix = _stored_by_prefix(engine, table)
        assert len(by_prefix["ours"]) == 3
        assert by_prefix["ours"] == by_prefix["theirs"]


def test_events_are_numbered_in_the_order_given(engine: sa.Engine) -> None:
    """`sequence` orders a video's events (scored before auto_removed): the one statement
    numbers its rows in the order of the list, not of their ids."""
    given = [event(n, "order") for n in (5, 3, 9, 1, 7, 2)]
    with engine.begin() as connection:
        insert_tables(connection, [(decisions, [decision(1, "order")]), (events, given)])
    with engine.connect() as connection:
        stored = (
            connection.exec_driver_sql("SELECT event_id FROM events ORDER BY sequence")
            .scalars()
            .all()
        )
    assert stored == [row["event_id"] for row in given]


def test_what_json_cannot_carry_is_still_stored_as_executemany_stores_it(
    engine: sa.Engine,
) -> None:
    """A JSON column's None (JSON null, not SQL NULL) and an integer past 64 bits, which
    orjson refuses: stored as SQLAlchemy stores them."""
    theirs = [event(n, "theirs") for n in range(3)]
    ours = [event(n, "ours") for n in range(3)]
    for rows in (theirs, ours):
        rows[0]["data"] = None
        rows[1]["data"] = {"big": 2**70}
    with engine.begin() as connection:
        connection.execute(events.insert(), theirs)
        insert_tables(connection, [(events, ours), (decisions, [decision(1, "ours")])])
    by_prefix = _stored_by_prefix(engine, events)
    assert len(by_prefix["ours"]) == 3
    assert by_prefix["ours"] == by_prefix["theirs"]


def test_a_naive_datetime_is_refused_and_nothing_is_written(engine: sa.Engine) -> None:
    rows = [event(n, "naive") for n in range(3)]
    rows[2]["occurred_at"] = dt.datetime(2023, 3, 1, 17, 0)  # naive: the point
    with pytest.raises(ValueError, match="naive"), engine.begin() as connection:
        insert_tables(connection, [(decisions, [decision(1, "naive")]), (events, rows)])
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM events").scalar() == 0
        assert connection.exec_driver_sql("SELECT count(*) FROM decisions").scalar() == 0


def test_a_refused_row_in_any_table_writes_nothing_of_the_call(engine: sa.Engine) -> None:
    """A key already taken in the last table: SQLAlchemy's IntegrityError (what the decision
    log retries on), and none of the other tables' rows stay."""
    with engine.begin() as connection:
        insert_rows(connection, events, [event(1, "first")])
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        insert_tables(
            connection,
            [
                (decisions, [decision(n, "lost") for n in range(3)]),
                (events, [event(2, "first"), event(1, "first")]),
            ],
        )
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM decisions").scalar() == 0
        stored = connection.exec_driver_sql("SELECT event_id FROM events").scalars().all()
    assert stored == ["first-e1"]


def _stored_by_prefix(engine: sa.Engine, table: sa.Table) -> dict[str, list[tuple[str, ...]]]:
    """Each row's values as the driver returns them (no SQLAlchemy conversion), as text with
    the row's prefix taken out, by prefix."""
    columns = [c.name for c in table.columns if c.name != "sequence"]
    with engine.connect() as connection:
        stored = connection.exec_driver_sql(
            f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {columns[0]}"
        ).all()
    by_prefix: dict[str, list[tuple[str, ...]]] = {"ours": [], "theirs": []}
    for row in stored:
        prefix = str(row[0]).split("-")[0]
        by_prefix[prefix].append(tuple(str(v).replace(prefix, "") for v in row))
    return by_prefix


def test_rows_go_back_with_their_transaction(engine: sa.Engine) -> None:
    """The one statement as a transaction's first, and a later statement failing: nothing
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
    """No transaction begun yet (SQLAlchemy begins one at the statement), then commit as
    you go."""
    with engine.connect() as connection:
        insert_rows(connection, events, [event(n, "plain") for n in range(3)])
        connection.commit()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM events").scalar() == 3
