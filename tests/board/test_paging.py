"""Keyset paging on the pages and the API: every post exactly once, even while posts arrive."""

import base64
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from board.extensions import db
from board.models import Author, Post
from board.pagination import Cursor, InvalidCursor, fetch_page

START = datetime(2026, 1, 1, 12, 0, 0)


def add_posts(app, count: int, start: datetime = START, prefix: str = "p", same_time: bool = False) -> None:
    with app.app_context():
        author = db.session.scalar(sa.select(Author).limit(1))
        if author is None:
            author = Author(name="Writer", email="writer@example.com", password_hash="x")
            db.session.add(author)
            db.session.flush()
        db.session.execute(sa.insert(Post), [
            {"title": f"{prefix} {n}", "slug": f"{prefix}-{n}", "content": "c", "author_id": author.id,
             "created_at": start if same_time else start + timedelta(seconds=n, microseconds=n),
             "updated_at": start} for n in range(count)])
        db.session.commit()


def titles_on(page_html: str) -> list[str]:
    return re.findall(r'class="title" href="[^"]+">([^<]+)</a>', page_html)


def link(page_html: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', page_html)
    return match[1].replace("&amp;", "&") if match else None


def walk(client, url: str, rel: str = "next", during=None) -> list[str]:
    seen = []
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += titles_on(html)
        if during:
            during()
        url = link(html, rel)
    return seen


def test_older_links_walk_every_post_once_newest_first(app, client):
    app.config["POSTS_PER_PAGE"] = 7
    add_posts(app, 30)
    assert walk(client, "/") == [f"p {n}" for n in reversed(range(30))]


def test_posts_published_during_the_walk_neither_shift_nor_repeat_entries(app, client):
    app.config["POSTS_PER_PAGE"] = 4
    add_posts(app, 20)
    counter = iter(range(100))
    # New posts are newest: an OFFSET pager would show page 1's last entries again on page 2.
    seen = walk(client, "/", during=lambda: add_posts(app, 2, datetime(2027, 1, 1), prefix=f"new{next(counter)}"))
    assert seen == [f"p {n}" for n in reversed(range(20))]


def test_posts_with_the_same_timestamp_are_ordered_by_id(app, client):
    app.config["POSTS_PER_PAGE"] = 3
    add_posts(app, 10, same_time=True)
    assert walk(client, "/") == [f"p {n}" for n in reversed(range(10))]


def test_newer_links_walk_back_to_the_first_page(app, client):
    app.config["POSTS_PER_PAGE"] = 4
    add_posts(app, 10)
    html = client.get("/").get_data(as_text=True)
    assert link(html, "prev") is None
    last = None
    url = "/"
    while url:
        last = url
        url = link(client.get(url).get_data(as_text=True), "next")
    back = walk(client, last, rel="prev")
    assert back[-4:] == ["p 9", "p 8", "p 7", "p 6"]
    assert sorted(set(back)) == sorted(f"p {n}" for n in range(10))


def test_an_authors_page_is_paged_too(app, client):
    app.config["POSTS_PER_PAGE"] = 5
    add_posts(app, 12)
    assert len(walk(client, "/authors/1")) == 12


def test_a_list_shows_committed_posts_only_even_beside_a_write_in_progress(app):
    # Lists come from the read path, not from the request's write transaction.
    add_posts(app, 3)
    with app.test_request_context("/posts/new", method="POST"):
        author_id = db.session.scalar(sa.select(Author.id).limit(1))
        db.session.add(Post(title="draft", slug="draft", content="c", author_id=author_id,
                            created_at=START + timedelta(days=1)))
        db.session.flush()
        assert [post.slug for post in fetch_page(20).posts] == ["p-2", "p-1", "p-0"]
        db.session.commit()
        assert [post.slug for post in fetch_page(20).posts] == ["draft", "p-2", "p-1", "p-0"]


def test_api_cursor_round_trip_walks_every_post_once(app, client):
    add_posts(app, 25)
    seen, cursor = [], None
    while True:
        body = client.get("/api/posts", query_string={"limit": 10, **({"cursor": cursor} if cursor else {})}).json
        seen += [post["slug"] for post in body["posts"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p-{n}" for n in reversed(range(25))]


def test_api_post_json(app, client):
    add_posts(app, 1)
    body = client.get("/api/posts/p-0").json
    assert body["title"] == "p 0" and body["author"]["name"] == "Writer"
    assert body["created_at"] == "2026-01-01T12:00:00.000000Z"
    assert body["url"].endswith("/posts/p-0")
    # A list gives each post whole, as the post's own URL does, though the pages' lists leave columns out.
    assert client.get("/api/posts?limit=1").json["posts"] == [body]


def opaque(plain: str) -> str:
    return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage!", "A" * 65, opaque("2026"), Cursor(START, 1).encode()[:-3] + "***", opaque("20261301T120000000000.1"),
    opaque("20260101T120000000000.1234567890123456789"), opaque("20260101T120000000000.-1"),
    opaque("20260101T120000000000"), opaque("\x00" * 20), "%%%", "..."])
def test_forged_or_garbled_cursor_is_a_400_not_a_500(client, cursor):
    assert client.get("/", query_string={"before": cursor}).status_code == 400
    assert client.get("/", query_string={"after": cursor}).status_code == 400
    response = client.get("/api/posts", query_string={"cursor": cursor})
    assert response.status_code == 400 and response.json["message"] == "cursor is not one this API returned"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", ""])
def test_api_rejects_a_bad_limit(client, limit):
    response = client.get("/api/posts", query_string={"limit": limit})
    assert response.status_code == 400 and "limit must be a whole number from 1 to 100" in response.json["message"]


def test_cursor_round_trips_microseconds():
    cursor = Cursor(datetime(2026, 11, 25, 4, 18, 7, 123456), 987654321)
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(InvalidCursor):
        Cursor.decode("")
