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

On PostgreSQL (psycopg) two rows or more, of one table or several, go as one statement:
each table's rows as one JSON document (orjson, in C), which the server reads back into rows
(`json_populate_recordset`), one INSERT a table, the tables joined as data-modifying CTEs.
psycopg sends an executemany as a pipeline of one INSERT a row, each bound, sent and its result
read in Python; that was most of the scoring thread's time on PostgreSQL. A `COPY ... FROM
STDIN` a table (a4f46ad) took that to C, but waits for the server twice; a scoring round wrote
four tables. Now the round's rows wait for it once: 1,558,321 instructions in the worker a
title against 1,768,837 with the COPYs (-12%), and 14 sendto calls a round of 16 against 21
(bench/app_cost.py --postgres; BENCHMARKS.md). A single row (a view count, a claim's event)
still goes as a plain INSERT, through the prepared statement.

tests/service/test_bulk_insert.py holds what is stored to what SQLAlchemy's own executemany
stores, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from service.tables import UTCDateTime


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    # each row key in the order the driver takes them, with its bind processor (or None)
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    positional: bool  # SQLite's qmark: tuples; psycopg's pyformat: dicts


# by dialect object, not name: an engine's JSON serializer is its dialect's (one engine a
# process in service; tests make one per test, a few entries each)
_PREPARED: dict[tuple[sa.Table, tuple[str, ...], sa.Dialect], _Prepared] = {}


Rows = Sequence[Mapping[str, object]]


def insert_tables(connection: sa.Connection, batches: Sequence[tuple[sa.Table, Rows]]) -> None:
    """INSERT each table's rows (a table's rows all with the same keys), in the order given;
    on PostgreSQL through psycopg all in one statement."""
    batches = [(table, rows) for table, rows in batches if rows]
    if not batches:
        return
    if _one_statement(connection.dialect) and (len(batches) > 1 or len(batches[0][1]) > 1):
        documents = [_json_document(table, rows) for table, rows in batches]
        if all(document is not None for document in documents):
            key = tuple((table, tuple(rows[0])) for table, rows in batches)
            sql = _STATEMENTS.get(key)
            if sql is None:
                sql = _STATEMENTS[key] = _json_statement(key, connection.dialect)
            connection.exec_driver_sql(sql, tuple(documents))
            return
    for table, rows in batches:
        _execute_many(connection, table, rows)


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Rows) -> None:
    """INSERT ``rows`` (all with the same keys, as executemany needs) into ``table``."""
    insert_tables(connection, [(table, rows)])


def _execute_many(connection: sa.Connection, table: sa.Table, rows: Rows) -> None:
    """The rows through the driver's executemany, converted by SQLAlchemy's bind processors."""
    columns = tuple(rows[0])
    key = (table, columns, connection.dialect)
    prepared = _PREPARED.get(key)
    if prepared is None:
        prepared = _PREPARED[key] = _prepare(table, columns, connection.dialect)
    pairs = prepared.columns
    if prepared.positional:
        connection.exec_driver_sql(prepared.sql, _tuples(rows, pairs))
    else:
        named = [
            {name: row[name] if convert is None else convert(row[name]) for name, convert in pairs}
            for row in rows
        ]
        connection.exec_driver_sql(prepared.sql, named)


# by tables and their columns: the statement's text (one entry a shape of scoring round)
_STATEMENTS: dict[tuple[tuple[sa.Table, tuple[str, ...]], ...], str] = {}


def _one_statement(dialect: sa.Dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _json_document(table: sa.Table, rows: Rows) -> str | None:
    """The rows as one JSON array, as `json_populate_recordset` reads it; None for rows this
    path cannot write as executemany would (a naive datetime, which executemany refuses; a
    JSON column's None, which executemany stores as JSON null and the server would read as
    SQL NULL; a float column's NaN or infinity, which JSON has no word for; a value orjson
    refuses): those go through executemany."""
    for name in rows[0]:
        if not _json_writable(table.c[name].type, [row[name] for row in rows]):
            return None
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        return None


def _json_writable(kind: sa.types.TypeEngine[Any], values: list[object]) -> bool:
    if isinstance(kind, UTCDateTime):
        return not any(isinstance(v, dt.datetime) and v.tzinfo is None for v in values)
    if isinstance(kind, sa.JSON):
        return None not in values
    if isinstance(kind, sa.Float):
        return not any(isinstance(v, float) and not math.isfinite(v) for v in values)
    return True


def _json_statement(
    shape: tuple[tuple[sa.Table, tuple[str, ...]], ...], dialect: sa.Dialect
) -> str:
    """One INSERT a table, each reading its rows from one parameter, in the order of the
    JSON array (`sequence` numbers events in that order); all but the last as CTEs."""
    quote = dialect.identifier_preparer.quote
    inserts = []
    for table, columns in shape:
        name = dialect.identifier_preparer.format_table(table)
        inserts.append(
            f"INSERT INTO {name} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT {', '.join('r.' + quote(c) for c in columns)} "
            f"FROM json_populate_recordset(NULL::{name}, %s::json) WITH ORDINALITY AS r "
            "ORDER BY r.ordinality"
        )
    *first, last = inserts
    if not first:
        return last
    return "WITH " + ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(first)) + " " + last


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
    return _Prepared(compiled.string, processors, compiled.positional)
