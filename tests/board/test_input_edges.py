"""Input a careless user or a prober sends: a clear 4xx, never a 500, nothing stored that should not be."""

import io

import pytest

from board.models import Author
from tests.board.browsing import PASSWORD, author, count, csrf_token, posts, publish, register, submit


def multipart_with_a_file_in(client, url: str, fields: dict, file_field: str):
    data = {"csrf_token": csrf_token(client, url), **fields, file_field: (io.BytesIO(b"not text"), "a.txt")}
    return client.post(url, data=data, content_type="multipart/form-data")


@pytest.mark.parametrize(("url", "fields", "file_field"), [
    ("/login", {"email": "ada@example.com", "password": PASSWORD}, "email"),
    ("/register", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD}, "name"),
])
def test_a_file_in_a_text_field_is_a_form_error_not_a_crash(app, client, url, fields, file_field):
    others = {name: value for name, value in fields.items() if name != file_field}
    response = multipart_with_a_file_in(client, url, others, file_field)
    assert response.status_code == 422
    assert count(app, Author) == 0


def test_a_file_in_a_post_title_is_a_form_error_and_nothing_is_stored(app, client):
    register(client)
    response = multipart_with_a_file_in(client, "/posts/new", {"content": "Body"}, "title")
    assert response.status_code == 422 and "A post needs a title." in response.get_data(as_text=True)
    assert count(app) == 0


def test_a_multipart_part_whose_name_cannot_be_read_is_a_400(app, client):
    # The line break ends the part's header early: Werkzeug reads the part with no name at all.
    response = client.post("/register", data={"\r": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400 and "no readable name" in response.get_data(as_text=True)
    assert count(app, Author) == 0


@pytest.mark.parametrize("limit", ["²", "٣", "9" * 5000, "-1", "1.5", " 5"])
def test_a_limit_that_is_not_a_few_ascii_digits_is_a_400(client, limit):
    response = client.get("/api/posts", query_string={"limit": limit})
    assert response.status_code == 400 and response.json["message"] == "limit must be a whole number from 1 to 100"


@pytest.mark.parametrize("author_id", ["99999999999999999999999", "2147483648", "9" * 5000])
def test_an_author_id_past_what_the_database_holds_is_a_404(client, author_id):
    assert client.get(f"/authors/{author_id}").status_code == 404


def test_a_405_says_which_methods_are_allowed(client):
    response = client.delete("/")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert client.put("/api/posts").headers["Allow"]


@pytest.mark.parametrize(("title", "message"), [
    ("\u200b\u200b", "this is only invisible characters"),
    ("\u3164", "this is only invisible characters"),
    ("\u202eevil.exe", "text-direction control characters"),
])
def test_titles_that_show_nothing_or_turn_text_around_are_refused(app, client, title, message):
    register(client)
    response = publish(client, title=title)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(app) == 0


@pytest.mark.parametrize("name", ["\u200b", "\u202eAda"])
def test_names_that_show_nothing_or_turn_text_around_are_refused(app, client, name):
    assert register(client, name=name).status_code == 422
    assert count(app, Author) == 0


def test_text_is_stored_in_one_unicode_form(app, client):
    register(client, name="Zoe\u0301")
    publish(client, title="Cafe\u0301", content="Cre\u0300me")
    [post] = posts(app)
    assert (post.title, post.content) == ("Café", "Crème")
    assert author(app, "ada@example.com").name == "Zoé"


@pytest.mark.parametrize("password", ["password", "12345678", "Password1", "qwertyuiop", "ADA@EXAMPLE.COM"])
def test_common_passwords_and_the_email_are_refused_with_a_reason(app, client, password):
    response = register(client, password=password)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert ("one of the most common" in page) or ("cannot be your email address" in page)
    assert count(app, Author) == 0


def test_a_new_post_does_not_show_as_edited(app, client):
    register(client)
    response = publish(client, follow_redirects=True)
    assert response.status_code == 200 and "(edited" not in response.get_data(as_text=True)
    [post] = posts(app)
    assert post.updated_at == post.created_at


def test_an_edited_post_shows_as_edited(client):
    register(client)
    slug = publish(client).headers["Location"].rsplit("/", 1)[1]
    submit(client, f"/posts/{slug}/edit", {"title": "Hello", "content": "Changed."})
    assert "(edited" in client.get(f"/posts/{slug}").get_data(as_text=True)


def test_api_links_do_not_name_a_host_from_the_request(client):
    register(client)
    publish(client)
    body = client.get("/api/posts", headers={"Host": "evil.example"}).json
    assert "evil.example" not in body["posts"][0]["url"] and body["posts"][0]["url"] == "/posts/hello"


@pytest.fixture
def hosted_app(database_url):
    from tests.conftest import make_app

    return make_app(database_url, environ={"TRUSTED_HOSTS": "localhost, .board.example"})


def test_with_trusted_hosts_other_hosts_get_400_and_links_are_absolute(hosted_app):
    client = hosted_app.test_client()
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/posts", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "www.board.example"}).status_code == 200
    # The load balancer's health check names the instance by its address.
    assert client.get("/healthz", headers={"Host": "10.0.3.17"}).status_code == 200
    register(client)  # the test client's host is localhost
    publish(client)
    assert client.get("/api/posts").json["posts"][0]["url"] == "http://localhost/posts/hello"
