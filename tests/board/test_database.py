"""On PostgreSQL: one round trip per read page, writes in transactions, and dead connections replaced unseen."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from board.extensions import db
from board.models import Author, Post
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


def transactions(admin: sa.Engine, database: str) -> int:
    """Transactions the server has counted for a database: each statement outside BEGIN is one."""
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return conn.scalar(sa.text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :d"),
                           {"d": database})


def settled_transactions(admin: sa.Engine, database: str, at_least: int) -> int:
    # Backends report their counts when they exit, a moment after the pool closes them.
    deadline = time.monotonic() + 10
    while transactions(admin, database) < at_least and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    return transactions(admin, database)


def test_a_page_read_costs_one_round_trip_no_ping_begin_or_rollback(pg_app, postgres_url, postgres_database):
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = postgres_database.rsplit("/", 1)[1]
    client = pg_app.test_client()
    older = client.get("/api/posts?limit=5").get_json()["next_cursor"]  # an engine's first connection asks more
    pages = ["/", "/?before=" + older, "/api/posts?limit=5", "/authors/1"]
    with pg_app.app_context():
        db.engine.dispose()
    before = settled_transactions(admin, name, 1)
    reads = 0
    for _ in range(5):
        for page in pages:
            assert client.get(page).status_code == 200, page
            reads += 1
    with pg_app.app_context():
        db.engine.dispose()
    # An author's page asks for the author, then the posts; the server counts one more as the new connection starts.
    statements = reads + 5 + 1
    assert settled_transactions(admin, name, before + statements) - before == statements
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


def test_connections_the_server_closed_are_replaced_before_a_request_sees_them(pg_app, postgres_url,
                                                                               postgres_database):
    client = pg_app.test_client()
    for _ in range(3):
        assert client.get("/").status_code == 200
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a database restart or an RDS failover does to open connections
        ended = conn.scalar(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE datname = :d AND pid <> pg_backend_pid()"),
                            {"d": postgres_database.rsplit("/", 1)[1]})
    admin.dispose()
    assert ended >= 1
    time.sleep(0.2)  # the server's goodbye reaches the pooled connections' sockets
    for page in ("/", "/api/posts", "/readyz"):
        assert client.get(page).status_code == 200, page
