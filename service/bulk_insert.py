"""INSERTs of a scoring round's rows without SQLAlchemy's per-row parameter work.

`connection.execute(table.insert(), rows)` compiles the statement once (it is cached), but for
every row builds its parameters afresh and looks up each column's conversion again: on a
round of titles that was the largest Python cost of the log write. Here
the statement's text and each column's bind processor (the same ones SQLAlchemy applies:
UTCDateTime's text on SQLite, the JSON serializer, PostgreSQL's casts in the text) are
worked out once per table, columns and dialect; each row's values are converted and the
lot goes to the driver's executemany through `exec_driver_sql`, so the connection's events,
transaction and error wrapping are those of any other statement. A title request: 1,717,824
instructions against 1,848,051 through `connection.execute` (-7%, bench/app_cost.py
--instructions; BENCHMARKS.md).

On PostgreSQL (psycopg) two rows or more go as one `COPY ... FROM STDIN` in the transaction:
psycopg sends an executemany as a pipeline of one INSERT a row, and its Python handling of
each (binding, sending, reading each result) was most of the scoring thread's time on
PostgreSQL; COPY formats the rows in psycopg's C code and reads one result. A title request
on PostgreSQL: 1,740,942 instructions in the worker against 1,889,350 (-8%), and about 3
system calls against 14 (sendto and poll; bench/app_cost.py --postgres, BENCHMARKS.md). A
driver error is raised as SQLAlchemy's wrapper of it, as a statement's would be, a lost
connection invalidated (the decision log retries on IntegrityError; service.problems reads
the rest). A single row (a view count, a claim's event) still goes as an INSERT: a COPY waits
for the server twice.

tests/service/test_bulk_insert.py holds what is stored to what SQLAlchemy's own executemany
stores, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    # each row key in the order the driver takes them, with its bind processor (or None)
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    positional: bool  # SQLite's qmark: tuples; psycopg's pyformat: dicts
    copy: str | None  # PostgreSQL through psycopg: the COPY for two rows or more


# by dialect object, not name: an engine's JSON serializer is its dialect's (one engine a
# process in service; tests make one per test, a few entries each)
_PREPARED: dict[tuple[sa.Table, tuple[str, ...], sa.Dialect], _Prepared] = {}


def insert_rows(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, object]]
) -> None:
    """INSERT ``rows`` (all with the same keys, as executemany needs) into ``table``."""
    if not rows:
        return
    columns = tuple(rows[0])
    key = (table, columns, connection.dialect)
    prepared = _PREPARED.get(key)
    if prepared is None:
        prepared = _PREPARED[key] = _prepare(table, columns, connection.dialect)
    pairs = prepared.columns
    if prepared.copy is not None and len(rows) > 1:
        # converted before the COPY opens: a value refused here (a naive datetime) leaves
        # nothing to abort on the server
        _copy(connection, prepared.copy, _tuples(rows, pairs))
    elif prepared.positional:
        connection.exec_driver_sql(prepared.sql, _tuples(rows, pairs))
    else:
        named = [
            {name: row[name] if convert is None else convert(row[name]) for name, convert in pairs}
            for row in rows
        ]
        connection.exec_driver_sql(prepared.sql, named)


def _tuples(
    rows: Sequence[Mapping[str, object]], pairs: tuple[tuple[str, Callable[[Any], Any] | None], ...]
) -> list[tuple[object, ...]]:
    return [
        tuple(row[name] if convert is None else convert(row[name]) for name, convert in pairs)
        for row in rows
    ]


def _prepare(table: sa.Table, columns: tuple[str, ...], dialect: sa.Dialect) -> _Prepared:
    compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup) if compiled.positional else columns  # type: ignore[arg-type]
    if set(names) != set(columns) or compiled.escaped_bind_names:
        # bind names other than the columns' own: not for this path, write it with execute()
        raise ValueError(f"{table.name}: bind names {names} are not its columns {columns}")
    processors = tuple(
        (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
    )
    copy = None
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        quote = dialect.identifier_preparer.quote
        copy = (
            f"COPY {dialect.identifier_preparer.format_table(table)} "
            f"({', '.join(quote(name) for name in names)}) FROM STDIN"
        )
    return _Prepared(compiled.string, processors, compiled.positional, copy)


def _copy(connection: sa.Connection, sql: str, rows: list[tuple[object, ...]]) -> None:
    """The rows through COPY on the connection's psycopg connection, in its transaction
    (two rows or more: a COPY waits for the server at its start and its end, a one-row
    INSERT once, while the caller may hold a row lock)."""
    if not connection.in_transaction():
        connection.begin()  # as SQLAlchemy's autobegin would for a statement of its own
    driver_connection: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
    try:
        with driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        # as SQLAlchemy treats a statement's error: a lost connection is marked invalidated
        # (service.problems answers 503) and not handed back to the pool
        dbapi_connection = connection.connection.dbapi_connection
        lost = connection.dialect.is_disconnect(exc, dbapi_connection, None)  # type: ignore[arg-type]  # psycopg's Error is this DBAPI's
        if lost:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            sql, None, exc, psycopg.Error, connection_invalidated=lost
        ) from exc
