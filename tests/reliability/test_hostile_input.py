"""Hostile input through real HTTP to gunicorn: always a 4xx, never a 5xx or a traceback, nothing stored."""

from __future__ import annotations

import contextlib
import re
import socket

import pytest
import requests
import sqlalchemy as sa

from tests.reliability.conftest import production_server

pytestmark = pytest.mark.reliability
HUGE = "A" * 70_000


def count_posts(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        total = conn.scalar(sa.text("SELECT count(*) FROM posts"))
    engine.dispose()
    return total


@pytest.fixture
def site(seeded_database, tmp_path):
    # Development only for the cookie's Secure flag: this test talks plain HTTP, and a
    # browser (or requests) keeps Secure cookies for HTTPS.
    with production_server(seeded_database, tmp_path / "gunicorn.log", APP_ENV="development") as (base, _):
        yield base, seeded_database


def logged_in(base: str) -> requests.Session:
    session = requests.Session()

    def token(path: str) -> str:
        return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', session.get(base + path).text)[1]

    password = "correct horse battery"
    session.post(base + "/register", data={"csrf_token": token("/register"), "name": "Eve",
                                           "email": "eve@example.com", "password": password, "confirm": password})
    session.token = token  # type: ignore[attr-defined]
    return session


CASES = [
    ("GET", "/?before=" + HUGE, {}, None),
    ("GET", "/?after=%FF%FE", {}, None),
    ("GET", "/api/posts?cursor=" + HUGE, {}, None),
    ("GET", "/api/posts?limit=-5", {}, None),
    ("GET", "/api/posts?limit=99999999999999999999", {}, None),
    ("GET", "/posts/%00%ff", {}, None),
    ("GET", "/authors/-1", {}, None),
    ("GET", "/authors/99999999999999999999999", {}, None),
    ("POST", "/api/posts", {}, None),
    ("DELETE", "/", {}, None),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), CASES, ids=[c[0] + " " + c[1][:40] for c in CASES])
def test_hostile_requests_get_a_clean_4xx(site, method, path, headers, body):
    base, url = site
    response = requests.request(method, base + path, headers=headers, data=body, timeout=10)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text
    assert count_posts(url) == 500


def test_forms_refuse_hostile_posts_and_store_nothing(site):
    base, url = site
    session = logged_in(base)
    token = session.token("/posts/new")
    attempts = {
        "no CSRF token": session.post(base + "/posts/new", data={"title": "t", "content": "c"}),
        "forged CSRF token": session.post(base + "/posts/new", data={"csrf_token": token[:-4] + "AAAA",
                                                                     "title": "t", "content": "c"}),
        "JSON instead of a form": session.post(base + "/posts/new", json={"csrf_token": token, "title": "t",
                                                                          "content": "c"}),
        "invalid UTF-8": session.post(base + "/posts/new", data=b"csrf_token=" + token.encode() +
                                      b"&title=%FF%FE&content=%C3%28",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"}),
        "empty title": session.post(base + "/posts/new", data={"csrf_token": token, "title": " ", "content": "c"}),
    }
    for name, response in attempts.items():
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:200])
        assert "Traceback" not in response.text, name
    assert count_posts(url) == 500


def raw_request(base: str, head: bytes, body: bytes = b"") -> str:
    """Send bytes as they are and read the answer, even when the server stops reading early."""
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(head)
        # The server may answer before the body is all sent, as it should for a 413.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            raw.sendall(body)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := raw.recv(65536):
                answer += chunk
    return answer.decode("latin-1")


def test_an_oversize_body_is_refused_with_413_and_nothing_stored(site):
    base, url = site
    body = b"title=t&content=" + b"x" * 2_000_000
    answer = raw_request(base, b"POST /posts/new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               b"Content-Type: application/x-www-form-urlencoded\r\n"
                               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n", body)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "Traceback" not in answer
    assert count_posts(url) == 500


def test_xss_is_escaped_and_an_open_redirect_refused(site):
    base, _ = site
    session = logged_in(base)
    created = session.post(base + "/posts/new", data={"csrf_token": session.token("/posts/new"),
                                                      "title": "<script>alert(1)</script>",
                                                      "content": "<img src=x onerror=alert(2)>"})
    assert created.status_code == 200 and "<script>alert(1)" not in created.text and "&lt;script&gt;" in created.text
    session.post(base + "/logout", data={"csrf_token": session.token("/")})
    login = session.post(base + "/login?next=//evil.example/", allow_redirects=False,
                         data={"csrf_token": session.token("/login"), "email": "eve@example.com",
                               "password": "correct horse battery"})
    assert login.status_code == 302 and login.headers["Location"] == "/"


def test_header_injection_in_the_request_id_is_not_echoed(site):
    base, _ = site
    answer = raw_request(base, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\rSet-Cookie: evil=1\r\n"
                               b"Connection: close\r\n\r\n")
    head = answer.split("\r\n\r\n", 1)[0]
    assert head.startswith("HTTP/1.1 ") and not head.startswith("HTTP/1.1 5")
    assert "evil=1" not in head


def chunked(body: bytes, size: int = 65536) -> bytes:
    """`body` in HTTP/1.1 chunked transfer encoding."""
    parts = [b"%x\r\n%s\r\n" % (len(body[start:start + size]), body[start:start + size])
             for start in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def chunked_post(base: str, session: requests.Session, path: str, body: bytes) -> str:
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.get_dict().items())
    return raw_request(base, b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\n"
                             b"Cookie: " + cookies.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n",
                       chunked(body))


def test_a_chunked_body_over_the_limit_is_refused_with_413_and_nothing_stored(site):
    base, url = site
    session = logged_in(base)
    # A valid post, followed by padding that takes the body past 1 MiB: cut at the limit, it would still parse.
    body = (b"csrf_token=" + session.token("/posts/new").encode() + b"&title=Cut&content=short&padding="
            + b"x" * 2_000_000)
    answer = chunked_post(base, session, "/posts/new", body)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert count_posts(url) == 500


def test_a_chunked_body_within_the_limit_is_taken_whole(site):
    base, url = site
    session = logged_in(base)
    body = b"csrf_token=" + session.token("/posts/new").encode() + b"&title=Chunked&content=" + b"y" * 19_000
    answer = chunked_post(base, session, "/posts/new", body)
    assert answer.startswith("HTTP/1.1 302"), answer[:200]
    assert count_posts(url) == 501


@pytest.mark.parametrize("path", ["/", "/nowhere"])
def test_a_cookie_that_is_not_ascii_is_ignored_and_the_page_keeps_its_headers(site, path):
    base, _ = site
    # The bytes a client sends as they are: gunicorn hands the app each as one Latin-1 character.
    answer = raw_request(base, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode() +
                         "Cookie: remember_token=é|é; session=é\r\n\r\n".encode())
    head = answer.split("\r\n\r\n", 1)[0]
    assert head.startswith(("HTTP/1.1 200", "HTTP/1.1 404")), head
    assert "Content-Security-Policy: default-src 'self'" in head
