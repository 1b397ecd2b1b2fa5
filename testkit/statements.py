"""The SQL an engine sends, for tests and benchmarks that count or inspect it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg2.extensions
import sqlalchemy as sa


@contextmanager
def recorded(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements `engine` sends through SQLAlchemy's execution while the block runs, in order.

    Not those read_rows() sends on psycopg2's own cursor: see RecordingConnection.
    """
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


PING = "SELECT 1"  # what SQLAlchemy's pool_pre_ping sends for psycopg2
ROLLBACK = "rollback()"  # a call to the driver's rollback, which releases the GIL even with nothing to undo


class RecordingConnection(psycopg2.extensions.connection):
    """psycopg2's connection, keeping the SQL of every statement its cursors run, whoever asked for them
    (SQLAlchemy's pings and dialect set-up too), and its rollbacks, as ROLLBACK."""

    statements: list[str] = []

    def rollback(self) -> None:
        RecordingConnection.statements.append(ROLLBACK)
        super().rollback()

    def cursor(self, *args, cursor_factory=None, **kwargs):
        chosen = cursor_factory or self.cursor_factory or psycopg2.extensions.cursor
        return super().cursor(*args, cursor_factory=_recording(chosen), **kwargs)


@cache
def _recording(cursor_class: type) -> type:
    class Recording(cursor_class):
        def execute(self, query, params=None):
            RecordingConnection.statements.append(query if isinstance(query, str) else str(query))
            return super().execute(query, params)

    return Recording


def recording_options(url: str) -> dict:
    """The app's engine options for `url`, on RecordingConnection."""
    from board.config import engine_options

    options = engine_options({}, url)
    options["connect_args"] = {**options["connect_args"], "connection_factory": RecordingConnection}
    return options
