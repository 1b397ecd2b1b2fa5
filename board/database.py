"""Views that only read say so: @read_only.

Every request runs in a transaction on the session's connection, as
SQLAlchemy does by default, and ends with it (Flask-SQLAlchemy removes the
session after each request, which rolls back whatever was not committed).
A view decorated with @read_only makes that transaction read-only in the
database itself, on PostgreSQL and SQLite alike, so a write there fails at
once on both instead of passing unnoticed:

- PostgreSQL: SQLAlchemy's `postgresql_readonly` execution option, which
  makes psycopg2 open the transaction with BEGIN READ ONLY.
- SQLite: `PRAGMA query_only`, which belongs to the connection rather than
  the transaction.

Both are undone as the connection goes back to the pool (_writable), so the
next request, a write perhaps, gets an ordinary connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import wraps

import psycopg2.extensions
import sqlalchemy as sa

from .extensions import db

READ_ONLY = {"postgresql_readonly": True}


def read_only(view: Callable) -> Callable:
    """Run `view` in a read-only transaction (under the route decorator: `@bp.get(...)` then `@read_only`)."""

    @wraps(view)
    def read_only_view(*args, **kwargs):
        if db.session().in_transaction():
            # Its options would be ignored: the transaction began before the view asked for them.
            raise RuntimeError(f"{view.__name__}: the session was used before @read_only could begin")
        connection = db.session.connection(execution_options=READ_ONLY)
        if connection.dialect.name == "sqlite":
            _set_query_only(connection.connection.dbapi_connection, True)
        return view(*args, **kwargs)

    return read_only_view


def init_engine(engine: sa.Engine) -> None:
    sa.event.listen(engine, "checkin", _writable)


def _writable(dbapi_connection, _record) -> None:
    """Undo @read_only as a connection goes back to the pool (after SQLAlchemy's own reset)."""
    if dbapi_connection is None:  # invalidated: it is not coming back
        return
    if isinstance(dbapi_connection, sqlite3.Connection):
        _set_query_only(dbapi_connection, False)
    elif isinstance(dbapi_connection, psycopg2.extensions.connection) and not dbapi_connection.closed:
        # SQLAlchemy resets psycopg2's flag to False rather than to None (the server's default), and with False
        # every later pool_pre_ping, which switches to autocommit and back, makes psycopg2 send a SET.
        dbapi_connection.readonly = None


def _set_query_only(dbapi_connection, on: bool) -> None:
    # On the driver's connection, as SQLAlchemy's docs set SQLite pragmas: a setting, not one of the app's queries.
    dbapi_connection.execute(f"PRAGMA query_only = {int(on)}")
