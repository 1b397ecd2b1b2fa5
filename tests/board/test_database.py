"""Transactions the same on SQLite and PostgreSQL, a read path the database keeps read-only, and dead
PostgreSQL connections replaced unseen."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import Flask

from board import reads
from board.config import engine_options
from board.extensions import db
from board.models import Author, Post
from testkit.statements import recorded
from testkit.wire import round_trips
from tests.board.browsing import count, publish, register
from tests.conftest import make_app, upgrade


def add_posts(app: Flask, how_many: int = 25) -> None:
    with app.app_context():
        author = Author(name="Writer", email="writer@example.com")
        author.set_password("long enough password")
        db.session.add(author)
        db.session.flush()
        db.session.add_all(Post(title=f"Post {n}", slug=f"post-{n}", content="text", author_id=author.id)
                           for n in range(how_many))
        db.session.commit()


def test_a_row_flushed_during_a_read_is_gone_after_a_rollback(app):
    # The same on both databases: nothing a request did not commit outlives it.
    with app.test_request_context("/"):
        db.session.add(Author(name="Flushed", email="flushed@example.com", password_hash="x"))
        db.session.flush()
        db.session.rollback()
        db.session.remove()
    assert count(app, Author) == 0


def test_reads_and_writes_take_turns_with_one_connection_a_thread(database_url):
    app = make_app(database_url, environ={"GUNICORN_THREADS": "1"})
    client = app.test_client()
    register(client)
    for _ in range(2):
        assert client.get("/").status_code == 200
        assert publish(client).status_code == 302
    assert count(app) == 2
    with app.app_context():
        db.engine.dispose()


def test_list_pages_send_one_query(app):
    add_posts(app)
    client = app.test_client()
    older = client.get("/api/posts?limit=3").get_json()["next_cursor"]
    with app.app_context():
        engine = reads.engines().primary
    # No N+1: the authors' names come with the posts, and an author's page reads the author with them.
    for page, queries in (("/", 1), ("/?before=" + older, 1), ("/api/posts", 1), ("/authors/1", 1),
                          ("/posts/post-1", 1)):
        with recorded(engine) as statements:
            assert client.get(page).status_code == 200, page
        assert len(statements) == queries, (page, statements)


@pytest.fixture
def pg_app(postgres_database):
    upgrade(make_app(postgres_database))
    app = make_app(postgres_database)
    add_posts(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_thread_holds_one_connection_even_where_a_page_reads_the_author_and_a_list(pg_app, postgres_database):
    # The pool keeps one connection per thread and opens no more: an author's page (the author, then the
    # posts) must not take a second one, or every thread could wait on the others.
    options = {**engine_options({"GUNICORN_THREADS": "1"}, postgres_database), "pool_timeout": 2}
    app = make_app(postgres_database, SQLALCHEMY_ENGINE_OPTIONS=options)
    client = app.test_client()
    older = client.get("/api/posts?limit=3").get_json()["next_cursor"]
    for page in ("/authors/1", "/", "/api/posts", "/authors/1?before=" + older):
        assert client.get(page).status_code == 200, page
    with app.app_context():
        for engine in (db.engine, reads.engines().primary):
            assert (engine.pool.size(), engine.pool.checkedout()) == (1, 0)
            engine.dispose()


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
        sa.event.listen(reads.engines().primary, "checkout", end_it_after_the_ping)
        sa.event.listen(reads.engines().primary, "invalidate", lambda *_: invalidated.append(True))
    response = client.get(page)
    admin.dispose()
    assert lost and response.status_code == 503
    body = response.get_data(as_text=True)
    assert "database is not reachable" in body and "Traceback" not in body and "psycopg2" not in body
    assert invalidated, "the lost connection went back to the pool as if it were sound"
    assert client.get(page).status_code == 200


def test_a_page_that_reads_costs_two_round_trips_on_postgresql(pg_app, postgres_database):
    # Counted on the wire, so the pool's ping and any BEGIN or ROLLBACK the driver sends count too: the ping
    # and the page's one query are all there is.
    with round_trips(postgres_database) as (url, wire):
        app = make_app(url)
        client = app.test_client()
        older = client.get("/api/posts?limit=3").get_json()["next_cursor"]
        for page in ("/", "/?before=" + older, "/api/posts", "/posts/post-1", "/api/posts/post-1", "/authors/1",
                     "/authors/1?before=" + older):
            client.get(page)  # a new connection first logs in and asks the server about itself
            with wire.counting() as counted:
                assert client.get(page).status_code == 200, page
            assert counted == [2], page
        with app.app_context():
            db.engine.dispose()
            reads.engines().primary.dispose()
