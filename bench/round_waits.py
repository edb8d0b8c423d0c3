"""Where a scoring round waits for its database, statement by statement, in process.

Runs bench/app_cost.py (the app driven in-process by 32 callers; same arguments) with timers
on the scoring thread's statements: each SQL statement from its send to its result, COPY's
start (the server's go-ahead) and finish (its result), and COMMIT. Prints each one's count,
median and total, and the sum a round. On PostgreSQL each is at least a round trip to the
server; what a round takes beyond its CPU (app_cost's wall clock against its CPU) is mostly
here.

    .venv/bin/python bench/round_waits.py --cpu 0 --requests 4000 --repeats 1 --warm-up 500 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Timers add a little CPU to every statement; read the split, not app_cost's figures, here.
The warm-up's rounds are counted too. Not with --instructions (app_cost then runs itself
again under valgrind, without these timers).
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

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, run as a script
from bench import app_cost

SCORING_THREAD = "scoring"  # service/coalescer.py names its thread so
WAITS: dict[str, list[float]] = collections.defaultdict(list)


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
        conn.info["bench.started"] = time.perf_counter()

    @sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def ended(conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if _on_scoring_thread():
            elapsed = time.perf_counter() - conn.info.pop("bench.started")
            WAITS[_statement_name(statement)].append(elapsed)


def _time_driver(module: Any) -> None:
    """COMMIT and COPY, which SQLAlchemy's statement events do not see."""
    commit = module.Connection.commit

    def timed_commit(self: Any) -> None:
        started = time.perf_counter()
        commit(self)
        if _on_scoring_thread():
            WAITS["COMMIT"].append(time.perf_counter() - started)

    module.Connection.commit = timed_commit
    copy = module.Cursor.copy

    @contextlib.contextmanager
    def timed_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.perf_counter()
        with copy(self, statement, *args, **kwargs) as copying:
            if _on_scoring_thread():
                WAITS["COPY start"].append(time.perf_counter() - started)
            yield copying
            started = time.perf_counter()
        if _on_scoring_thread():
            WAITS["COPY finish"].append(time.perf_counter() - started)

    module.Cursor.copy = timed_copy


def _report() -> None:
    rounds = len(WAITS.get("COMMIT", [])) or 1
    print("where the scoring thread waited (statement: count, median us, total us a round)")
    for name, waits in sorted(WAITS.items(), key=lambda item: -sum(item[1])):
        print(
            f"  {name:40} {len(waits):6} {statistics.median(waits) * 1e6:8.0f}"
            f" {sum(waits) / rounds * 1e6:8.0f}"
        )
    total = sum(sum(waits) for waits in WAITS.values()) / rounds
    print(f"  {'all, a round':40} {rounds:6} {'':8} {total * 1e6:8.0f}")


def main() -> None:
    import psycopg

    _time_statements()
    _time_driver(psycopg)  # sqlite3's Connection is a C type: SQLite's COMMIT goes untimed
    sys.argv[0] = app_cost.__file__
    app_cost.main()
    _report()


if __name__ == "__main__":
    main()
