"""Writing, reading, editing and deleting posts; bad input stores nothing."""

import pytest
import sqlalchemy as sa

from board.extensions import db
from board.models import CONTENT_MAX, TITLE_MAX, Post
from board.slugs import first_free, slugify
from testkit.statements import recorded
from tests.board.browsing import count, logout, posts, publish, register, submit


@pytest.fixture
def ada(client):
    register(client)
    return client


def test_publish_redirects_to_the_post_at_its_slug(app, ada):
    response = publish(ada, title="Hello, World!", content="Line one\nline two")
    assert response.status_code == 302 and response.headers["Location"] == "/posts/hello-world"
    page = ada.get("/posts/hello-world").get_data(as_text=True)
    assert "Hello, World!" in page and "Line one\nline two" in page and "by <a" in page


def test_a_title_used_twice_gets_a_numbered_slug(app, ada):
    for _ in range(3):
        publish(ada, title="Same title")
    assert [post.slug for post in posts(app)] == ["same-title", "same-title-2", "same-title-3"]


def test_slug_race_is_retried_with_the_next_number(app, ada, monkeypatch):
    publish(ada, title="Race")
    # Another request took "race-2" after this one looked: the first look misses it.
    import board.posts

    real = board.posts.taken_slugs
    calls = []

    def stale_then_real(base):
        calls.append(base)
        if len(calls) == 1:
            with db.engine.begin() as conn:
                conn.execute(sa.insert(Post).values(title="Race", slug="race-2", content="x", author_id=1))
            return {"race"}
        return real(base)

    monkeypatch.setattr(board.posts, "taken_slugs", stale_then_real)
    assert publish(ada, title="Race").headers["Location"] == "/posts/race-3"
    assert count(app) == 3


@pytest.mark.parametrize(("title", "slug"), [
    ("Crème brûlée à Zürich", "creme-brulee-a-zurich"), ("日本語", "post"), ("  --Hi--  ", "hi"),
    ("x" * 500, "x" * 212)])
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_first_free_skips_taken_numbers():
    assert first_free("a", set()) == "a"
    assert first_free("a", {"a", "a-2", "a-3"}) == "a-4"


def test_publishing_needs_a_login(app, client):
    response = client.get("/posts/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_posting_without_a_csrf_token_is_refused_and_stores_nothing(app, ada):
    response = ada.post("/posts/new", data={"title": "t", "content": "c"})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert count(app) == 0


@pytest.mark.parametrize(("title", "content", "message"), [
    ("", "content", "A post needs a title."),
    ("   ", "content", "A post needs a title."),
    ("title", " \n\t ", "A post needs some content."),
    ("t" * (TITLE_MAX + 1), "content", "Keep the title to 200 characters or fewer."),
    ("title", "c" * (CONTENT_MAX + 1), "Keep the content to 20,000 characters or fewer."),
])
def test_bad_fields_are_explained_and_nothing_is_stored(app, ada, title, content, message):
    response = publish(ada, title=title, content=content)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page
    assert count(app) == 0


def test_the_form_keeps_what_was_typed(ada):
    page = publish(ada, title="Kept title", content="").get_data(as_text=True)
    assert 'value="Kept title"' in page


def test_longest_allowed_fields_are_stored_whole(app, ada):
    publish(ada, title="t" * TITLE_MAX, content="c" * CONTENT_MAX)
    [post] = posts(app)
    assert len(post.title) == TITLE_MAX and len(post.content) == CONTENT_MAX


def test_oversize_body_is_refused_with_413_and_nothing_stored(app, ada):
    response = publish(ada, content="x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert count(app) == 0


def test_script_in_title_and_content_is_shown_escaped(ada):
    publish(ada, title="<script>alert(1)</script>", content="<img src=x onerror=alert(2)>")
    page = ada.get("/posts/script-alert-1-script").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;" in ada.get("/").get_data(as_text=True)


def test_unicode_and_sql_metacharacters_are_stored_verbatim(app, ada):
    title = "Robert'); DROP TABLE posts;-- ☃ 日本語 %_\\"
    content = "emoji 🎉, quotes \" ' `, null-ish NULL, percent 100%"
    publish(ada, title=title, content=content)
    [post] = posts(app)
    assert post.title == title and post.content == content


def test_only_the_author_can_edit_or_delete(app, client):
    register(client)
    publish(client, title="Ada's post")
    logout(client)
    register(client, email="bob@example.com", name="Bob")
    assert client.get("/posts/ada-s-post/edit").status_code == 403
    assert submit(client, "/posts/ada-s-post/edit", {"title": "Bob was here", "content": "x"},
                  form_page="/").status_code == 403
    assert submit(client, "/posts/ada-s-post/delete", {}, form_page="/").status_code == 403
    [post] = posts(app)
    assert post.title == "Ada's post"


def test_the_author_edits_and_keeps_the_slug(app, ada):
    publish(ada, title="First title")
    response = submit(ada, "/posts/first-title/edit", {"title": "Second title", "content": "new"})
    assert response.headers["Location"] == "/posts/first-title"
    [post] = posts(app)
    assert (post.title, post.content) == ("Second title", "new")
    assert post.updated_at > post.created_at


def test_the_author_deletes(app, ada):
    publish(ada, title="Doomed")
    response = submit(ada, "/posts/doomed/delete", {}, form_page="/posts/doomed")
    assert response.status_code == 302
    assert count(app) == 0
    assert ada.get("/posts/doomed").status_code == 404


def test_delete_needs_a_post_request(ada):
    publish(ada, title="Stays")
    assert ada.get("/posts/stays/delete").status_code == 405


def test_logged_out_visitors_read_posts(client):
    register(client)
    publish(client, title="Public")
    logout(client)
    assert client.get("/posts/public").status_code == 200


@pytest.mark.parametrize(("title", "content"), [("nul\x00title", "c"), ("t", "nul \x00 content"), ("bell\x07", "c")])
def test_control_characters_are_refused_and_nothing_stored(app, ada, title, content):
    response = publish(ada, title=title, content=content)
    assert response.status_code == 422
    assert "invisible control characters" in response.get_data(as_text=True)
    assert count(app) == 0


def test_newlines_and_tabs_in_content_are_kept(app, ada):
    publish(ada, title="Lines", content="one\r\ntwo\tthree")
    [post] = posts(app)
    assert post.content == "one\r\ntwo\tthree"


@pytest.mark.parametrize("slug", ["%00", "UPPER", "a%20b", "x" * 300])
def test_impossible_slugs_are_404_without_a_query(app, client, slug):
    with app.app_context():
        engine = db.engine
    with recorded(engine) as statements:
        assert client.get(f"/posts/{slug}").status_code == 404
        assert client.get(f"/api/posts/{slug}").status_code == 404
    assert statements == []


def test_form_data_that_is_not_utf8_is_refused(app, ada):
    from tests.board.browsing import csrf_token

    body = f"csrf_token={csrf_token(ada, '/posts/new')}&title=%FF%FE&content=%C3%28".encode()
    response = ada.post("/posts/new", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "not valid UTF-8" in response.get_data(as_text=True)
    assert count(app) == 0
