"""On PostgreSQL: reads without transactions, writes in them, and dead connections replaced unseen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask

from board.config import engine_options
from board.extensions import db
from board.models import Author, Post
from testkit.statements import PING, ROLLBACK, RecordingConnection, recording_options
from tests.conftest import make_app, upgrade


@pytest.fixture
def pg_app(postgres_database):
    upgrade(make_app(postgres_database))
    app = make_app(postgres_database)
    with app.app_context():
        author = Author(name="Writer", email="writer@example.com")
        author.set_password("long enough password")
        db.session.add(author)
        db.session.flush()
        db.session.add_all(Post(title=f"Post {n}", slug=f"post-{n}", content="text", author_id=author.id)
                           for n in range(25))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def transactions(admin: sa.Engine, database: str) -> tuple[int, int]:
    """(committed, rolled back) as the server counts them for a database; a statement outside BEGIN commits."""
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return tuple(conn.execute(sa.text("SELECT xact_commit, xact_rollback FROM pg_stat_database "
                                          "WHERE datname = :d"), {"d": database}).one())


def settled_transactions(admin: sa.Engine, database: str, commits_at_least: int) -> tuple[int, int]:
    # Backends report their counts when they exit, a moment after the pool closes them.
    deadline = time.monotonic() + 10
    while transactions(admin, database)[0] < commits_at_least and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    return transactions(admin, database)


def test_page_reads_open_no_transaction_only_the_ping_and_the_query(pg_app, postgres_url, postgres_database):
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = postgres_database.rsplit("/", 1)[1]
    client = pg_app.test_client()
    older = client.get("/api/posts?limit=5").get_json()["next_cursor"]  # an engine's first connection asks more
    pages = ["/", "/?before=" + older, "/api/posts?limit=5", "/authors/1"]
    with pg_app.app_context():
        db.engine.dispose()
    commits, rollbacks = settled_transactions(admin, name, 1)
    reads = 0
    for _ in range(5):
        for page in pages:
            assert client.get(page).status_code == 200, page
            reads += 1
    with pg_app.app_context():
        db.engine.dispose()
    # Each read: the query, committing on its own (an author's page asks for the author, then the posts),
    # after pool_pre_ping's SELECT 1 (not needed on the first read's brand-new connection); the server
    # counts one more as that connection starts. Nothing was begun, so nothing is rolled back (a
    # transaction per read would add one rollback each).
    statements = reads + 5 + (reads - 1) + 1
    after = settled_transactions(admin, name, commits + statements)
    assert (after[0] - commits, after[1] - rollbacks) == (statements, 0)
    admin.dispose()


def test_writes_keep_their_transaction_after_reads_used_the_same_connection(pg_app):
    client = pg_app.test_client()
    assert client.get("/").status_code == 200
    with pg_app.test_request_context("/", method="GET"), pg_app.app_context():
        assert db.session.connection().connection.dbapi_connection.autocommit is True
        db.session.remove()
    with pg_app.test_request_context("/posts/new", method="POST"), pg_app.app_context():
        connection = db.session.connection().connection.dbapi_connection
        assert connection.autocommit is False
        db.session.execute(sa.update(Post).values(title="changed"))
        db.session.rollback()
        db.session.remove()
    with pg_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Post.title == "changed")) == 0
        db.session.remove()
    with pg_app.test_request_context("/", method="GET"), pg_app.app_context():  # and back, on the same connection
        assert db.session.connection().connection.dbapi_connection is connection
        assert connection.autocommit is True
        db.session.remove()


@contextmanager
def app_with_engine_options(database: str, options: dict) -> Iterator[Flask]:
    """The app on `database` with its own engine options; its pool is closed afterwards."""
    app = make_app(database, SQLALCHEMY_ENGINE_OPTIONS=options)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


def test_reads_hand_their_connection_back_without_a_rollback_and_unfinished_writes_are_rolled_back(
        pg_app, postgres_database):
    with app_with_engine_options(postgres_database, recording_options(postgres_database)) as app:
        client = app.test_client()
        older = client.get("/api/posts?limit=3").get_json()["next_cursor"]
        RecordingConnection.statements.clear()
        for page in ("/", "/?before=" + older, "/api/posts", "/authors/1", "/posts/post-1"):
            assert client.get(page).status_code == 200, page
        assert ROLLBACK not in RecordingConnection.statements
        with app.test_request_context("/posts/new", method="POST"), app.app_context():
            db.session.execute(sa.update(Post).values(title="changed"))
            db.session.remove()  # as a request that failed before its commit ends
        assert ROLLBACK in RecordingConnection.statements
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).where(Post.title == "changed")) == 0
            db.session.remove()


def test_list_pages_send_one_query_after_the_ping(pg_app, postgres_database):
    with app_with_engine_options(postgres_database, recording_options(postgres_database)) as app:
        client = app.test_client()
        older = client.get("/api/posts?limit=3").get_json()["next_cursor"]
        # No N+1: the authors' names come with the posts; an author's page also reads the author.
        for page, queries in (("/", 1), ("/?before=" + older, 1), ("/api/posts", 1), ("/authors/1", 2)):
            RecordingConnection.statements.clear()
            assert client.get(page).status_code == 200, page
            assert RecordingConnection.statements[0] == PING, page
            assert len(RecordingConnection.statements) == 1 + queries, (page, RecordingConnection.statements)


def test_a_thread_holds_one_connection_even_where_a_page_reads_the_session_and_a_list(pg_app, postgres_database):
    # The pool keeps one connection per thread and opens no more: an author's page (the author through the
    # session, then the posts) must not take a second one, or every thread could wait on the others.
    options = {**engine_options({"GUNICORN_THREADS": "1"}, postgres_database), "pool_timeout": 2}
    with app_with_engine_options(postgres_database, options) as app:
        client = app.test_client()
        older = client.get("/api/posts?limit=3").get_json()["next_cursor"]
        for page in ("/authors/1", "/", "/api/posts", "/authors/1?before=" + older):
            assert client.get(page).status_code == 200, page
        with app.app_context():
            assert (db.engine.pool.size(), db.engine.pool.checkedout()) == (1, 0)


def test_connections_the_server_closed_are_replaced_before_a_request_sees_them(pg_app, postgres_url,
                                                                               postgres_database):
    client = pg_app.test_client()
    for _ in range(3):
        assert client.get("/").status_code == 200
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a database restart or an RDS failover does to open connections
        ended = conn.scalar(sa.text("SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                                    "WHERE datname = :d AND pid <> pg_backend_pid()"),
                            {"d": postgres_database.rsplit("/", 1)[1]})
    admin.dispose()
    assert ended >= 1
    time.sleep(0.2)  # the server's goodbye reaches the pooled connections' sockets
    for page in ("/", "/api/posts", "/readyz"):
        assert client.get(page).status_code == 200, page


@pytest.mark.parametrize("page", ["/", "/api/posts"])
def test_a_connection_lost_after_the_ping_is_a_clean_503_and_the_next_request_is_served(pg_app, postgres_url, page):
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    lost = []

    def end_it_after_the_ping(dbapi_connection, _record, _proxy) -> None:
        # A checkout listener runs after pool_pre_ping: the server goes away between the ping and the query.
        if not lost:
            lost.append(dbapi_connection.get_backend_pid())
            with admin.connect() as conn:
                # With a timeout, it returns once the backend has exited, not merely been signalled.
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": lost[0]})
            time.sleep(0.2)

    invalidated = []
    client = pg_app.test_client()
    assert client.get(page).status_code == 200
    with pg_app.app_context():
        sa.event.listen(db.engine, "checkout", end_it_after_the_ping)
        sa.event.listen(db.engine, "invalidate", lambda *_: invalidated.append(True))
    response = client.get(page)
    admin.dispose()
    assert lost and response.status_code == 503
    body = response.get_data(as_text=True)
    assert "database is not reachable" in body and "Traceback" not in body and "psycopg2" not in body
    assert invalidated, "the lost connection went back to the pool as if it were sound"
    assert client.get(page).status_code == 200
