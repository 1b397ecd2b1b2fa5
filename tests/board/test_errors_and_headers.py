"""Error pages without tracebacks, a clean 503 when the database is down, headers, cookies, request ids."""

import logging

import pytest
from sqlalchemy.exc import OperationalError

from board.security import HEADERS
from tests.board.browsing import register
from tests.conftest import make_app


def boom():
    raise RuntimeError("secret internals")


def database_down():
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


@pytest.fixture
def fragile_app(app):
    app.add_url_rule("/test-only/boom", view_func=boom)
    app.add_url_rule("/api/test-only/boom", "api_boom", view_func=boom)
    app.add_url_rule("/test-only/db", view_func=database_down)
    return app


def test_an_unexpected_error_is_a_plain_500_page_and_logged_with_the_request_id(fragile_app, caplog):
    client = fragile_app.test_client()
    with caplog.at_level(logging.ERROR, logger="board"):
        response = client.get("/test-only/boom", headers={"X-Request-ID": "req-123"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and "Internal Server Error" in body
    assert "Traceback" not in body and "secret internals" not in body
    assert response.headers["X-Request-ID"] == "req-123"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info and getattr(record, "request_id", None) == "req-123"


def test_api_errors_are_json(fragile_app):
    client = fragile_app.test_client()
    response = client.get("/api/test-only/boom")
    assert response.status_code == 500 and response.is_json and "Traceback" not in response.get_data(as_text=True)
    assert client.get("/api/nothing-here").json["error"] == "Not Found"
    not_allowed = client.post("/api/posts")
    assert (not_allowed.status_code, not_allowed.json["error"]) == (405, "Method Not Allowed")


def test_a_database_outage_is_a_clean_503(fragile_app):
    response = fragile_app.test_client().get("/test-only/db")
    assert response.status_code == 503
    assert "database is not reachable" in response.get_data(as_text=True)


def test_pages_when_the_database_server_is_unreachable(tmp_path):
    from testkit.ports import free_port

    app = make_app(f"postgresql+psycopg2://nobody:pw@127.0.0.1:{free_port()}/none")
    client = app.test_client()
    assert client.get("/").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/posts").json["error"] == "Service Unavailable"


@pytest.mark.parametrize(("path", "code"), [("/nowhere", 404), ("/posts/nope", 404), ("/logout", 405)])
def test_error_pages_use_the_site_layout(client, path, code):
    response = client.get(path)
    assert response.status_code == code
    assert "Back to the latest posts" in response.get_data(as_text=True)


def test_security_headers_on_every_response(client):
    for path in ("/", "/api/posts", "/nowhere", "/healthz"):
        response = client.get(path)
        for name, value in HEADERS.items():
            assert response.headers[name] == value, (path, name)
    csp = HEADERS["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp


def test_pages_have_no_inline_script_or_style(client):
    register(client)
    for path in ("/", "/about", "/posts/new", "/authors/1"):
        html = client.get(path).get_data(as_text=True)
        assert "<script" not in html and "style=" not in html and "<style" not in html


def test_session_cookie_is_not_secure_in_development(app, client):
    register(client)
    cookie = client.get_cookie("session")
    assert cookie.http_only and not cookie.secure and cookie.same_site == "Lax"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"X-Request-ID": "abc-123"}, "abc-123"),
    ({"X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678"}, "Root=1-67891233-abcdef012345678912345678"),
    ({"X-Request-ID": "bad id\twith spaces"}, None),
    ({"X-Request-ID": "x" * 500}, None),
])
def test_request_id_is_taken_when_sane_else_generated(client, headers, expected):
    returned = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    if expected:
        assert returned == expected
    else:
        assert len(returned) == 32 and returned != headers.get("X-Request-ID")


@pytest.mark.parametrize("value", ["é|é", "1|é", "\u00c3\u00a9|x", "ünïcode"])  # the third: UTF-8 read as Latin-1
@pytest.mark.parametrize("path", ["/", "/nowhere", "/posts/new"])
def test_a_cookie_that_is_not_ascii_is_ignored(client, value, path):
    for name in ("remember_token", "session"):
        client.set_cookie(name, value)
    response = client.get(path)
    assert response.status_code in (200, 302, 404)
    assert response.headers["Content-Security-Policy"] == HEADERS["Content-Security-Policy"]


def test_a_logged_in_author_with_a_stray_non_ascii_cookie_stays_logged_in(client):
    register(client)
    client.set_cookie("remember_token", "é|é")
    assert "Log out" in client.get("/").get_data(as_text=True)


def broken_layout():
    raise RuntimeError("the layout failed")


def test_the_error_page_is_sent_with_the_security_headers_even_when_the_layout_fails(app, caplog):
    app.context_processor(lambda: {"site": broken_layout()})
    with caplog.at_level(logging.ERROR, logger="board"):
        response = app.test_client().get("/nowhere")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and "was not found on the server" in body
    assert "the layout failed" not in body
    for name, value in HEADERS.items():
        assert response.headers[name] == value


def test_pages_for_a_logged_in_author_are_kept_by_no_cache(client):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    register(client)
    for path in ("/", "/about", "/posts/new", "/authors/1"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/static/style.css").headers.get("Cache-Control", "")
