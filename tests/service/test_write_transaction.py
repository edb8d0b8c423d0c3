"""write_transaction's hooks run last and commit with the rest, on both databases, and a
failure in them leaves nothing behind, the pooled connection included."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from service.bulk_insert import insert_rows
from service.database import before_commit, write_transaction
from service.tables import events
from tests.service.test_bulk_insert import event


def _event_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.exec_driver_sql("SELECT event_id FROM events ORDER BY event_id").scalars()
        )


def _write_then(engine: sa.Engine, hook: Callable[[sa.Connection], None]) -> None:
    """A row of the transaction's own, then ``hook`` before its commit."""
    with write_transaction(engine) as connection:
        insert_rows(connection, events, [event(1, "lost")])
        before_commit(connection, hook)


def test_the_hooks_write_last_and_commit_with_the_transaction(engine: sa.Engine) -> None:
    seen_before_the_hook: list[list[str]] = []

    def hook(connection: sa.Connection) -> None:
        seen_before_the_hook.append(
            list(connection.exec_driver_sql("SELECT event_id FROM events").scalars())
        )
        connection.execute(events.insert(), [event(8, "hook"), event(9, "hook")])
        connection.execute(events.insert(), event(7, "hook"))  # one row: RETURNING its key

    with write_transaction(engine) as connection:
        before_commit(connection, hook)
        insert_rows(connection, events, [event(1, "body")])  # written before the hook runs
        assert _event_ids(engine) == []  # nothing visible outside before the commit
    assert seen_before_the_hook == [["body-e1"]]
    assert _event_ids(engine) == ["body-e1", "hook-e7", "hook-e8", "hook-e9"]


def test_a_hook_statement_refused_raises_integrity_error_and_keeps_nothing(
    engine: sa.Engine,
) -> None:
    def taken_key(connection: sa.Connection) -> None:
        connection.execute(events.insert(), [event(5, "twice"), event(5, "twice")])

    with pytest.raises(sa.exc.IntegrityError):
        _write_then(engine, taken_key)
    assert _event_ids(engine) == []
    with write_transaction(engine) as connection:  # the pool's connections still work
        insert_rows(connection, events, [event(2, "after")])
    assert _event_ids(engine) == ["after-e2"]


def test_a_hook_that_fails_keeps_nothing(engine: sa.Engine) -> None:
    def fails(connection: sa.Connection) -> None:
        connection.execute(events.insert(), [event(3, "hook")])
        raise RuntimeError("a fault of the hook's own")

    with pytest.raises(RuntimeError):
        _write_then(engine, fails)
    assert _event_ids(engine) == []
    with write_transaction(engine) as connection:
        insert_rows(connection, events, [event(2, "after")])
    assert _event_ids(engine) == ["after-e2"]
