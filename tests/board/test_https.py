"""Plain HTTP works (a new EB environment's URL has no certificate); over HTTPS cookies are Secure and HSTS is sent.

HTTPS is what the proxy in front says (X-Forwarded-Proto), believed only from
FORWARDED_ALLOW_IPS: first through the Flask test client, then through the
real gunicorn with gunicorn.conf.py, as EB's nginx reaches it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from board.security import HSTS
from testkit.compose import csrf_token
from testkit.servers import gunicorn
from tests.board.browsing import PASSWORD, login, logout, publish, register, submit
from tests.board.test_gunicorn import copy_app
from tests.conftest import make_app

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "s" * 32}


@pytest.fixture
def production_client(database_url):
    return make_app(database_url, environ=PRODUCTION).test_client()


def secure_flags(client) -> dict:
    return {name: client.get_cookie(name).secure for name in ("session", "remember_token")
            if client.get_cookie(name) is not None}


def test_over_plain_http_production_cookies_are_not_secure_and_every_form_works(production_client):
    client = production_client
    assert "Log out" in register(client, follow_redirects=True).get_data(as_text=True)
    assert "Hello" in publish(client, follow_redirects=True).get_data(as_text=True)
    logout(client)
    response = login(client, remember=True)
    assert response.status_code == 302
    assert secure_flags(client) == {"session": False, "remember_token": False}
    assert "Strict-Transport-Security" not in response.headers


def test_over_https_production_cookies_are_secure_and_hsts_is_sent(database_url):
    # The test client then speaks https, as gunicorn tells the app when a trusted proxy says so.
    client = make_app(database_url, PREFERRED_URL_SCHEME="https", environ=PRODUCTION).test_client()
    # Over HTTPS Flask-WTF also wants the same-origin Referer a browser sends with a form.
    def form(url: str, data: dict, page: str | None = None):
        return submit(client, url, data, page, headers={"Referer": "https://localhost" + (page or url)})

    assert form("/register", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD,
                              "confirm": PASSWORD}).status_code == 302
    assert form("/logout", {}, page="/").status_code == 302
    response = form("/login", {"email": "ada@example.com", "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    assert secure_flags(client) == {"session": True, "remember_token": True}
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert form("/posts/new", {"title": "Hello", "content": "Secure."}).status_code == 302


# --- the real gunicorn, reached as EB's nginx reaches it ---------------------------------------


class BehindTheLoadBalancer(requests.Session):
    """Requests as EB's nginx passes them on: plain HTTP with X-Forwarded-Proto: https. The browser talks HTTPS
    to the load balancer, so it sends its Secure cookies back; requests would not send them over http."""

    def __init__(self):
        super().__init__()
        self.headers["X-Forwarded-Proto"] = "https"

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        for cookie in self.cookies:  # the Set-Cookie headers the tests check are left as they came
            cookie.secure = False
        return response


@pytest.fixture
def app_dir(tmp_path):
    app_dir = copy_app(tmp_path)
    env = {"PATH": os.environ["PATH"], "FLASK_APP": "board", "APP_ENV": "development",
           "DATABASE_URL": f"sqlite:///{app_dir / 'board.sqlite'}"}
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=app_dir, env=env, check=True,
                   capture_output=True)
    return app_dir


def set_cookies(response: requests.Response) -> list[str]:
    return response.raw.headers.getlist("Set-Cookie")


def log_in_and_post(session: requests.Session, base: str) -> requests.Response:
    """Register, log out, log in with "Remember me", publish: the response that set the remember-me cookie."""
    def form(path: str, data: dict, page: str | None = None) -> requests.Response:
        token = csrf_token(session, base + (page or path))
        # Over HTTPS Flask-WTF also wants the same-origin Referer a browser sends with a form.
        scheme = session.headers.get("X-Forwarded-Proto", "http")
        referer = scheme + "://" + base.split("://", 1)[1] + (page or path)
        response = session.post(base + path, data={"csrf_token": token, **data}, headers={"Referer": referer},
                                timeout=10, allow_redirects=False)
        assert response.status_code in (200, 302), response.text[:300]
        return response

    form("/register", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD})
    form("/logout", {}, page="/")
    logged_in = form("/login", {"email": "ada@example.com", "password": PASSWORD, "remember": "y"})
    published = form("/posts/new", {"title": "Over the wire", "content": "Through gunicorn."})
    assert published.status_code == 302, "the post was not accepted"
    assert "Over the wire" in session.get(base + "/", timeout=10).text
    return logged_in


@pytest.mark.slow
def test_gunicorn_over_plain_http_sets_no_secure_cookie_and_register_login_post_work(app_dir):
    with gunicorn(app_dir, **PRODUCTION) as (base, _):
        browser = requests.Session()  # keeps cookies as a browser does: a Secure one is never sent over http
        logged_in = log_in_and_post(browser, base)
        cookies = set_cookies(logged_in)
        assert any(c.startswith("remember_token=") for c in cookies)
        assert not [c for c in cookies if "secure" in c.lower()]
        assert "Strict-Transport-Security" not in logged_in.headers


@pytest.mark.slow
def test_gunicorn_behind_a_trusted_proxy_saying_https_sets_secure_cookies_and_hsts(app_dir):
    with gunicorn(app_dir, **PRODUCTION, FORWARDED_ALLOW_IPS="127.0.0.1") as (base, _):
        logged_in = log_in_and_post(BehindTheLoadBalancer(), base)
        cookies = set_cookies(logged_in)
        assert {c.split("=", 1)[0] for c in cookies} >= {"session", "remember_token"}
        assert all("; Secure" in c for c in cookies), cookies
        assert logged_in.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.slow
def test_gunicorn_ignores_a_forwarded_proto_from_an_address_it_does_not_trust(app_dir):
    # Only 192.0.2.1 (a documentation address) may say the scheme; this client is 127.0.0.1.
    with gunicorn(app_dir, **PRODUCTION, FORWARDED_ALLOW_IPS="192.0.2.1") as (base, _):
        response = requests.get(base + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert response.status_code == 200
    assert set_cookies(response) and not [c for c in set_cookies(response) if "secure" in c.lower()]
    assert "Strict-Transport-Security" not in response.headers
