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

Lists are read through read_rows(): a plain Core connection, without the ORM
session's bookkeeping around it (about 4% of the index's throughput), and on
psycopg2 the driver's own cursor, without Core's execution layer (see there).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import psycopg2
import sqlalchemy as sa
from flask import has_request_context, request
from psycopg2.extras import NamedTupleCursor

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


@contextmanager
def read_connection() -> Iterator[sa.Connection]:
    """A connection for Core reads: the session's own if it holds one, else one from the pool until the block ends.

    The session's, so a read sees what the session wrote and a thread never
    holds two connections: the pool keeps one per thread and opens no more.
    """
    if db.session.registry.has() and db.session().in_transaction():
        yield db.session.connection()
        return
    with db.engine.connect() as connection:
        yield connection


def read_rows(query: sa.Select, params: dict) -> list:
    """The rows of `query`, with attributes named as its columns, read through read_connection().

    On psycopg2 the statement goes to the driver's own cursor: SQLAlchemy's
    execution layer (its execution context, result and rows) cost about 70 µs
    of CPU a query here, a fifth of what the index page pays for its database.
    SQLAlchemy still compiles the SQL (once per statement), and its pool still
    pings, sets the mode and takes the connection back. Errors are raised as
    SQLAlchemy's, and a lost connection is invalidated, as Core would do. Other
    drivers (SQLite) go through Core, which also converts their stored values.
    """
    with read_connection() as connection:
        if connection.dialect.driver != "psycopg2":
            return connection.execute(query, params).all()
        sql = _compiled(query, connection.dialect)
        pooled = connection.connection
        try:
            with pooled.cursor(cursor_factory=NamedTupleCursor) as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        except psycopg2.Error as error:
            lost = connection.dialect.is_disconnect(error, pooled.dbapi_connection, None)
            if lost:
                connection.invalidate()
            raise sa.exc.DBAPIError.instance(sql, params, error, psycopg2.Error, connection_invalidated=lost) from error


@lru_cache(maxsize=64)
def _compiled(query: sa.Select, dialect: sa.Dialect) -> str:
    return query.compile(dialect=dialect).string
