"""Where a scoring round waits on PostgreSQL, statement by statement, in process.

Runs bench/app_cost.py (the app driven in-process by 32 callers; same arguments, --postgres
required) with timers on the scoring thread: the pool's pre-ping at checkout, each SQL
statement from its send to its result (the first one includes psycopg's BEGIN, a round trip
of its own), each COPY's start (the server's go-ahead) and finish (its result), by table, and
COMMIT. Prints each one's count, median, and total a scoring round.

    .venv/bin/python bench/round_waits.py --cpu 0 --requests 4000 --repeats 1 --warm-up 500 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

The timers read the wall clock: a statement's time is the server's work, the round trips,
and the scoring thread's wait for the GIL and its core once the answer is in (the event
loop shares both). app_cost's figures from such a run carry the timers' own cost; take CPU
and throughput from a run without them. The warm-up's rounds are counted too. Not with
--instructions (app_cost then runs itself again under valgrind, without these timers).
"""

from __future__ import annotations

import collections
import contextlib
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, run as a script
from bench import app_cost

SCORING_THREAD = "scoring"  # service/coalescer.py names its thread so
WAITS: dict[str, list[float]] = collections.defaultdict(list)
STARTED = "bench.started"  # connection.info key


def _on_scoring_thread() -> bool:
    return threading.current_thread().name == SCORING_THREAD


def _statement_name(statement: str) -> str:
    words = statement.split()
    if words[:1] == ["SELECT"]:  # the columns say little: name it by its table
        after_from = words[words.index("FROM") + 1] if "FROM" in words else "?"
        return f"SELECT FROM {after_from}" + (" FOR UPDATE" if "UPDATE" in words else "")
    return " ".join(words[:3])


def _time_statements() -> None:
    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def started(conn: sa.Connection, *_: Any) -> None:
        conn.info[STARTED] = time.perf_counter()

    @sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def ended(conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        began = conn.info.pop(STARTED, None)
        if began is not None and _on_scoring_thread():
            WAITS[_statement_name(statement)].append(time.perf_counter() - began)


def _timed(name: str, started: float) -> None:
    if _on_scoring_thread():
        WAITS[name].append(time.perf_counter() - started)


def _time_driver() -> None:
    """The pre-ping, COMMIT and COPY, which SQLAlchemy's statement events do not see."""
    ping = PGDialect_psycopg.do_ping

    def timed_ping(self: Any, dbapi_connection: Any) -> bool:
        started = time.perf_counter()
        alive = ping(self, dbapi_connection)
        _timed("pre-ping (pool checkout)", started)
        return alive

    commit = psycopg.Connection.commit

    def timed_commit(self: Any) -> None:
        started = time.perf_counter()
        commit(self)
        _timed("COMMIT", started)

    copy = psycopg.Cursor.copy

    @contextlib.contextmanager
    def timed_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        table = str(statement).split()[1]  # "COPY <table> (columns) FROM STDIN"
        started = time.perf_counter()
        with copy(self, statement, *args, **kwargs) as copying:
            _timed(f"COPY {table}, its start", started)
            yield copying
            started = time.perf_counter()
        _timed(f"COPY {table}, its finish", started)

    PGDialect_psycopg.do_ping = timed_ping  # type: ignore[method-assign]
    psycopg.Connection.commit = timed_commit  # type: ignore[method-assign]
    psycopg.Cursor.copy = timed_copy  # type: ignore[method-assign,assignment]


def _report(rounds: float) -> None:
    print("where the scoring thread waited (statement: count, median us, us a round)")
    for name, waits in sorted(WAITS.items(), key=lambda item: -sum(item[1])):
        print(
            f"  {name:40} {len(waits):6} {statistics.median(waits) * 1e6:8.0f}"
            f" {sum(waits) / rounds * 1e6:8.0f}"
        )
    total = sum(sum(waits) for waits in WAITS.values()) / rounds
    print(f"  {'all, a round':40} {rounds:6.0f} {'':8} {total * 1e6:8.0f}")


def main() -> None:
    if "--postgres" not in sys.argv or "--instructions" in sys.argv:
        raise SystemExit("round_waits.py: --postgres URL, and not --instructions")
    _time_statements()
    _time_driver()
    sys.argv[0] = app_cost.__file__
    app_cost.main()
    _, rounds = app_cost._round_totals()  # every round of the run, the warm-up's included
    _report(rounds)


if __name__ == "__main__":
    main()
