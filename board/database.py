"""Read requests run without a transaction: no BEGIN, nothing to roll back.

Measured with `make bench` (the index page, PostgreSQL on the same machine): a
read paid four round trips (pool_pre_ping's SELECT 1, BEGIN, the query, and
the ROLLBACK as the connection went back to the pool). A connection handed to
a read request (GET, HEAD, OPTIONS) is in autocommit mode, which leaves the
ping and the query, and no call to the driver's rollback as it goes back
(skip_autocommit_rollback, board/config.py). Reads here run one query each,
or two that need no common snapshot; writes keep their transaction and
savepoints. SQLAlchemy's own isolation_level="AUTOCOMMIT" option would cost a
SET on every return instead, so a checkout event sets psycopg2's flag directly.

Lists are read through read_rows(): a pooled connection, without the ORM
session's bookkeeping around it (about 4% of the index's throughput), and on
psycopg2 the driver's own cursor, without SQLAlchemy's Connection and
execution layer (see there).
"""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache, partial

import psycopg2
import psycopg2.extensions
import sqlalchemy as sa
from flask import has_request_context, request

from .extensions import db

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def tune(engine: sa.Engine) -> None:
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "checkout", _on_checkout)


def _on_checkout(dbapi_connection, _record, _proxy) -> None:
    # Every checkout passes here, so a connection keeps its mode in the pool and changes only when the
    # next request needs the other one: psycopg2 releases the GIL to change it, which under load hands
    # the CPU to another thread (and pool_pre_ping would flip it twice more). Measured: about 3%.
    autocommit = has_request_context() and request.method in READ_METHODS
    if dbapi_connection.autocommit != autocommit:
        dbapi_connection.autocommit = autocommit


def read_rows(query: sa.Select, params: dict) -> list:
    """The rows of `query`, with attributes named as its columns.

    Inside a session's transaction they are read on the session's connection,
    so a read sees what the session wrote and a thread never holds two
    connections (the pool keeps one per thread and opens no more).

    On psycopg2 the statement goes to the driver's own cursor on a connection
    from the pool: SQLAlchemy's Connection and execution layer (its execution
    context, result and rows) cost about 85 µs of CPU a query here, over a
    quarter of what the index page paid for its database, one request at a
    time. SQLAlchemy still compiles the SQL (once per statement), and its pool
    still pings, sets the mode and takes the connection back. Errors are
    raised as SQLAlchemy's, and a lost connection is invalidated, as Core
    would do. Other drivers (SQLite) go through Core, which also converts
    their stored values.
    """
    if db.session.registry.has() and db.session().in_transaction():
        connection = db.session.connection()
        if connection.dialect.driver != "psycopg2":
            return connection.execute(query, params).all()
        return _driver_rows(connection.connection, connection.dialect, query, params, connection.invalidate)
    engine = db.engine
    if engine.dialect.driver != "psycopg2":
        with engine.connect() as connection:
            return connection.execute(query, params).all()
    try:
        pooled = engine.raw_connection()
    except psycopg2.Error as error:
        raise _wrapped(error, engine.dialect) from error
    try:
        return _driver_rows(pooled, engine.dialect, query, params, pooled.invalidate)
    finally:
        pooled.close()


def _driver_rows(pooled, dialect: sa.Dialect, query: sa.Select, params: dict, invalidate) -> list:
    sql = _compiled(query, dialect)
    try:
        with pooled.cursor(cursor_factory=_RowCursor) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    except psycopg2.Error as error:
        wrapped = _wrapped(error, dialect, pooled.dbapi_connection, sql, params)
        if wrapped.connection_invalidated:
            invalidate()
        raise wrapped from error


def _wrapped(error: psycopg2.Error, dialect: sa.Dialect, dbapi_connection=None, sql: str | None = None,
             params: dict | None = None) -> sa.exc.DBAPIError:
    """The driver's error as SQLAlchemy's, saying whether the connection was lost (no connection: it failed to open)."""
    lost = dialect.is_disconnect(error, dbapi_connection, None)
    return sa.exc.DBAPIError.instance(sql, params, error, psycopg2.Error, connection_invalidated=lost)


class _RowCursor(psycopg2.extensions.cursor):
    """A cursor whose rows are named tuples, made in C: psycopg2's NamedTupleCursor makes each
    through namedtuple's Python-level _make (about 1 µs a row)."""

    def fetchall(self) -> list:
        return list(map(_row_maker(tuple(column.name for column in self.description)), super().fetchall()))


@lru_cache(maxsize=64)
def _row_maker(names: tuple[str, ...]):
    return partial(tuple.__new__, namedtuple("Row", names, rename=True))


@lru_cache(maxsize=64)
def _compiled(query: sa.Select, dialect: sa.Dialect) -> str:
    return query.compile(dialect=dialect).string
