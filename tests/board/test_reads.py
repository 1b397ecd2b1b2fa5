"""The read path: the database refuses writes there on SQLite and PostgreSQL, whatever the request did
before; SQLite's read-only files in either journal mode; a replica, and read-your-writes after a post."""

from __future__ import annotations

import logging
import sqlite3

import pytest
import sqlalchemy as sa
from flask_login import current_user, login_required

from board import reads
from board.extensions import db
from board.models import Author, Post
from board.pagination import fetch_page
from tests.board.browsing import count, publish, register
from tests.conftest import make_app, upgrade


@pytest.mark.parametrize("write", [
    lambda session: session.add(Author(name="Sneaky", email="sneaky@example.com", password_hash="x")),
    lambda session: session.execute(sa.delete(Author)),
    lambda session: session.execute(sa.text("CREATE TABLE sneaky (x integer)")),
], ids=["orm", "core", "ddl"])
def test_a_write_on_the_read_path_fails_in_the_database_and_stores_nothing(app, write):
    register(app.test_client())
    with app.test_request_context("/"), pytest.raises(sa.exc.DBAPIError,
                                                      match="read-only transaction|readonly database"):
        write(reads.session())
        reads.session().flush()
    assert count(app, Author) == 1


def test_a_write_on_the_read_path_is_a_logged_500_on_both_databases(app, caplog):
    def sneaky_write():
        reads.session().add(Author(name="Sneaky", email="sneaky@example.com", password_hash="x"))
        reads.session().flush()
        return "written"

    app.add_url_rule("/test-only/sneaky-write", view_func=sneaky_write)
    with caplog.at_level(logging.ERROR, logger="board"):
        response = app.test_client().get("/test-only/sneaky-write")
    assert response.status_code == 500  # a bug to fix, not "the database is not reachable"
    assert any(record.exc_info for record in caplog.records)
    assert count(app, Author) == 0


def test_a_login_required_page_that_reads_works_for_a_logged_in_user(app):
    # The login check reads the author through db.session before the view reads its page.
    @login_required
    def my_posts():
        page = fetch_page(10, author_id=current_user.id)
        return ", ".join(post.title for post in page.posts)

    app.add_url_rule("/test-only/my-posts", view_func=my_posts)
    client = app.test_client()
    assert client.get("/test-only/my-posts").status_code == 302  # to the login page
    register(client)
    publish(client, title="Mine")
    response = client.get("/test-only/my-posts")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "Mine")
    # The real pages too, with the logged-in author's own links on them.
    for page in ("/", "/authors/1", "/posts/mine"):
        response = client.get(page)
        assert response.status_code == 200 and "Log out" in response.get_data(as_text=True), page


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_the_sqlite_read_path_sees_every_commit_and_refuses_writes_in_either_journal_mode(tmp_path, journal_mode):
    path = tmp_path / "a folder with spaces" / "board.sqlite"
    path.parent.mkdir()
    url = f"sqlite:///{path}"
    upgrade(make_app(url))
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    app = make_app(url)
    client = app.test_client()
    register(client)
    for n in range(3):  # the read path's pooled connection sees each new commit
        publish(client, title=f"Post {n}")
        assert f"Post {n}" in client.get("/").get_data(as_text=True)
    with app.app_context():
        for engine in (db.engine, reads.engines().primary):
            engine.dispose()  # the last writer gone: in WAL mode its -wal and -shm files go with it
    assert "Post 2" in client.get("/").get_data(as_text=True)
    with app.test_request_context("/"), pytest.raises(sa.exc.OperationalError, match="readonly database"):
        reads.session().execute(sa.delete(Post))
    assert count(app) == 3
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == journal_mode


@pytest.fixture
def lagging_replica(tmp_path):
    """A replica that has not caught up at all: an empty database at the migrations' head."""
    url = f"sqlite:///{tmp_path / 'replica.sqlite'}"
    upgrade(make_app(url))
    return url


def test_a_client_that_wrote_reads_from_the_primary_for_a_while_and_others_from_the_replica(database_url,
                                                                                            lagging_replica):
    app = make_app(database_url, environ={"DATABASE_READ_URL": lagging_replica, "READ_YOUR_WRITES": "7"})
    writer, reader = app.test_client(), app.test_client()
    register(writer)
    response = publish(writer, title="Fresh", follow_redirects=True)
    assert response.status_code == 200 and "Fresh" in response.get_data(as_text=True)  # the page after the post
    assert "Fresh" in writer.get("/").get_data(as_text=True)
    cookie = writer.get_cookie(reads.COOKIE)
    assert cookie.max_age == 7 and cookie.http_only
    # Everyone else reads from the replica, which has not caught up.
    assert reader.get("/posts/fresh").status_code == 404
    assert "Fresh" not in reader.get("/").get_data(as_text=True)
    writer.delete_cookie(reads.COOKIE)  # the browser drops it after max_age
    assert writer.get("/posts/fresh").status_code == 404
    with app.app_context():
        db.engine.dispose()
        for engine in (reads.engines().primary, reads.engines().replica):
            engine.dispose()


def test_without_a_replica_a_write_sets_no_cookie(app):
    client = app.test_client()
    register(client)
    assert publish(client).status_code == 302
    assert client.get_cookie(reads.COOKIE) is None
