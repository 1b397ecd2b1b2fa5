"""How the app's connections to PostgreSQL behave: one round trip for a page read.

Measured with `make bench` (the index page, PostgreSQL on the same machine):
a read cost four round trips (pool_pre_ping's SELECT 1, BEGIN, the query, and
the ROLLBACK as the connection went back to the pool). Two pool events leave
one:

- A connection handed to a read request (GET, HEAD, OPTIONS) is in autocommit
  mode until it goes back to the pool: psycopg2 sends no BEGIN and has nothing
  to roll back. Reads here run one query each, or two that need no common
  snapshot. Writes keep their transaction and savepoints. (SQLAlchemy's own
  isolation_level="AUTOCOMMIT" option costs a SET on every return instead.)
- Instead of pinging, a connection is checked for a hang-up as it leaves the
  pool: an idle connection has nothing to read unless the server closed it (a
  restart, a failover, an idle timeout), so a readable socket means it is dead
  and SQLAlchemy swaps in a fresh one. A server that vanished without a word
  fails the query instead: a clean 503 (board/errors.py) and SQLAlchemy
  discards the pool's other connections.
"""

from __future__ import annotations

import select

import sqlalchemy as sa
from flask import has_request_context, request

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def tune(engine: sa.Engine) -> None:
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "checkout", _on_checkout)
        sa.event.listen(engine, "checkin", _on_checkin)


def _on_checkout(dbapi_connection, _record, _proxy) -> None:
    if dbapi_connection.closed or _hung_up(dbapi_connection):
        # SQLAlchemy discards this connection and checks out a new one.
        raise sa.exc.DisconnectionError("the database server closed this connection")
    dbapi_connection.autocommit = has_request_context() and request.method in READ_METHODS


def _on_checkin(dbapi_connection, _record) -> None:
    if dbapi_connection is not None and not dbapi_connection.closed:
        dbapi_connection.autocommit = False  # whoever checks it out next gets transactions by default


def _hung_up(dbapi_connection) -> bool:
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))
