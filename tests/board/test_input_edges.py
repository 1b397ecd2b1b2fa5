"""Input a careless user or a prober sends: a clear 4xx, never a 500, nothing stored that should not be."""

import io

import pytest

from board.models import Author
from tests.board.browsing import PASSWORD, author, count, csrf_token, logout, posts, publish, register, submit


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


@pytest.mark.parametrize("password", [
    "password", "12345678", "Password1", "qwertyuiop", "ADA@EXAMPLE.COM",
    # Fullwidth "password", "Password1" and "ada@example.com"; then ones made from the address.
    "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44", "\uff30\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11",
    "\uff41\uff44\uff41\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",
    "ada.example.com", "Ada Example", "ada12345", "ada@example"])
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


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("body", ["[1]", '"abc"', "null", DEEP, '{"email": "ada@example.com", "password": "x"}'])
@pytest.mark.parametrize("url", ["/login", "/register", "/posts/new"])
def test_a_json_body_on_a_form_route_is_refused_with_a_4xx(app, client, body, url):
    register(client, email="owner@example.com", name="Owner")
    response = client.post(url, data=body, content_type="application/json",
                           headers={"X-CSRFToken": csrf_token(client, "/posts/new")})
    assert response.status_code == 415 and "takes form data" in response.get_data(as_text=True)
    assert count(app) == 0 and count(app, Author) == 1


def test_an_empty_json_body_on_a_form_is_a_form_error(app, client):
    response = client.post("/login", data="", content_type="application/json",
                           headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 422 and "Please enter your email address." in response.get_data(as_text=True)


@pytest.mark.parametrize("referer", ["https://localhost:99999/login", "https://[::1/login", "https://[x]:1/"])
def test_an_unreadable_referer_on_a_form_over_https_is_a_400(database_url, referer):
    from tests.conftest import make_app

    client = make_app(database_url, PREFERRED_URL_SCHEME="https").test_client()
    response = client.post("/login", data={"csrf_token": csrf_token(client), "email": "ada@example.com",
                                           "password": PASSWORD}, headers={"Referer": referer})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    # A page view is not a form: its Referer is not read.
    assert client.get("/", headers={"Referer": referer}).status_code == 200


def multipart(fields: dict[str, bytes], boundary: str = "b0undary") -> tuple[bytes, str]:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
             for name, value in fields.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_invalid_utf8_in_a_multipart_field_is_a_400_as_in_a_urlencoded_one(app, client):
    fields = {"csrf_token": csrf_token(client, "/register").encode(), "email": b"ada@example.com",
              "password": PASSWORD.encode(), "confirm": PASSWORD.encode()}
    body, content_type = multipart({**fields, "name": b"Ad\xff\xfea"})
    response = client.post("/register", data=body, content_type=content_type)
    assert response.status_code == 400 and "not valid UTF-8" in response.get_data(as_text=True)
    assert count(app, Author) == 0
    body, content_type = multipart({**fields, "name": "Zoé \ufffd".encode()})  # typed as such: kept
    assert client.post("/register", data=body, content_type=content_type).status_code == 302
    assert author(app, "ada@example.com").name == "Zoé \ufffd"


@pytest.mark.parametrize("name", ["Ada\u200e", "\u200fAda", "Ad\u061ca", "Ad\u0085a", "Ada\u009b[31m", "A\u200bda",
                                  "A\u200dda", "Ada\ufeff", "A\u2060da", "Ada\u00ad"])
def test_names_with_direction_marks_c1_controls_or_zero_width_characters_are_refused(app, client, name):
    response = register(client, name=name)
    assert response.status_code == 422 and "Please remove" in response.get_data(as_text=True)
    assert count(app, Author) == 0


def test_a_name_that_looks_like_an_existing_one_is_refused(app, client):
    register(client, name="Owner", email="owner@example.com")
    logout(client)
    for lookalike in ("Owner", "0wner", "\u039fwner", "\u041ewner", "OWNER", "\uff2f\uff57\uff4e\uff45\uff52"):
        response = register(client, name=lookalike, email="other@example.com")
        assert response.status_code == 422, lookalike
        assert "looks like it" in response.get_data(as_text=True)
    assert count(app, Author) == 1
    assert register(client, name="Owen", email="other@example.com").status_code == 302


@pytest.mark.parametrize("title", ["New", "new!", "NEW"])
def test_a_post_titled_like_a_page_gets_an_address_of_its_own(app, client, title):
    register(client)
    location = publish(client, title=title).headers["Location"]
    assert location.endswith("/posts/new-2")
    page = client.get(location)
    assert page.status_code == 200 and "First post." in page.get_data(as_text=True)
    assert 'name="title"' in client.get("/posts/new").get_data(as_text=True)  # the form is still the form


@pytest.mark.parametrize("host", ["EXAMPLE.COM", "example.com.", "Www.Board.Example.", "example.com:8000"])
def test_a_trusted_host_in_capitals_or_with_a_final_dot_is_the_same_host(database_url, host):
    from tests.conftest import make_app

    client = make_app(database_url, environ={"TRUSTED_HOSTS": "example.com, .board.example"}).test_client()
    assert client.get("/", headers={"Host": host}).status_code == 200


def test_api_links_keep_a_port_only_where_trusted_hosts_names_it(database_url):
    from tests.conftest import make_app

    client = make_app(database_url, environ={"TRUSTED_HOSTS": "board.example, localhost:8000"}).test_client()
    register(client)
    publish(client)

    def url(host: str) -> str:
        return client.get("/api/posts", headers={"Host": host}).json["posts"][0]["url"]

    assert url("board.example:6666") == "http://board.example/posts/hello"
    assert url("BOARD.example.") == "http://board.example/posts/hello"
    assert url("localhost:8000") == "http://localhost:8000/posts/hello"
    assert url("localhost:8001") == "http://localhost/posts/hello"
