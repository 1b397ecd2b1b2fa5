"""Read requests run without a transaction: no BEGIN, nothing to roll back.

Measured with `make bench` (the index page, PostgreSQL on the same machine): a
read paid four round trips (pool_pre_ping's SELECT 1, BEGIN, the query, and
the ROLLBACK as the connection went back to the pool). A connection handed to
a read request (GET, HEAD, OPTIONS) is in autocommit mode until it returns to
the pool, which leaves the ping and the query. Reads here run one query each,
or two that need no common snapshot; writes keep their transaction and
savepoints. SQLAlchemy's own isolation_level="AUTOCOMMIT" option would cost a
SET on every return instead, so the pool events set psycopg2's flag directly.

Lists read through read_connection(): a plain Core connection, without the
ORM session's bookkeeping around it (about 4% of the index's throughput).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import has_request_context, request

from .extensions import db

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def tune(engine: sa.Engine) -> None:
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "checkout", _on_checkout)
        sa.event.listen(engine, "checkin", _on_checkin)


def _on_checkout(dbapi_connection, _record, _proxy) -> None:
    dbapi_connection.autocommit = has_request_context() and request.method in READ_METHODS


def _on_checkin(dbapi_connection, _record) -> None:
    if dbapi_connection is not None and not dbapi_connection.closed:
        dbapi_connection.autocommit = False  # whoever checks it out next gets transactions by default


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
