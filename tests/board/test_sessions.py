"""Sessions that really end: each login a row of its own, its lifetime kept by the server; logout ends one,
a password change or "Log out everywhere" all of them, every copy of their cookies included."""

from datetime import timedelta

import pytest

from board import sessions
from board.config import REMEMBER_FOR, SESSION_FOR
from board.models import utcnow
from tests.board.browsing import PASSWORD, csrf_token, login, logout, register, submit

NEW_PASSWORD = "a much longer passphrase"


def logged_in(client) -> bool:
    return client.get("/posts/new").status_code == 200


def with_cookie(app, name: str, value: str):
    """A fresh browser holding only a copy of one cookie."""
    client = app.test_client()
    client.set_cookie(name, value)
    return client


def test_copies_of_the_session_and_remember_cookies_are_refused_after_logout(app, client):
    register(client)
    logout(client)
    login(client, remember=True)
    session_copy = client.get_cookie("session").value
    remember_copy = client.get_cookie("remember_token").value
    assert logged_in(with_cookie(app, "session", session_copy))
    assert logged_in(with_cookie(app, "remember_token", remember_copy))

    logout(client)
    assert not logged_in(client)
    assert not logged_in(with_cookie(app, "session", session_copy))
    assert not logged_in(with_cookie(app, "remember_token", remember_copy))


def test_logout_ends_this_browsers_session_only(app, client):
    register(client)
    other_device = app.test_client()
    login(other_device, remember=True)
    remember_copy = other_device.get_cookie("remember_token").value
    logout(client)
    assert not logged_in(client)
    assert logged_in(other_device)
    assert logged_in(with_cookie(app, "remember_token", remember_copy))


def test_two_logins_get_different_remember_cookies_that_each_work(app, client):
    register(client)
    first, second = app.test_client(), app.test_client()
    login(first, remember=True)
    login(second, remember=True)
    cookies = [browser.get_cookie("remember_token").value for browser in (first, second)]
    assert cookies[0] != cookies[1]
    assert all(logged_in(with_cookie(app, "remember_token", cookie)) for cookie in cookies)


def test_log_out_everywhere_ends_every_session_and_remember_cookie(app, client):
    register(client)
    other_device = app.test_client()
    login(other_device, remember=True)
    remember_copy = other_device.get_cookie("remember_token").value
    response = submit(client, "/account/sessions/end", {}, form_page="/account/sessions")
    assert response.status_code == 302
    assert not logged_in(client)
    assert not logged_in(other_device)
    assert not logged_in(with_cookie(app, "remember_token", remember_copy))


def test_log_out_everywhere_needs_a_csrf_token(client):
    register(client)
    assert client.post("/account/sessions/end").status_code == 400
    assert logged_in(client)


def test_the_sessions_page_shows_each_login_with_its_browser_and_time(app, client):
    register(client, headers={"User-Agent": "FirstBrowser/1.0"})
    other_device = app.test_client()
    login(other_device, remember=True)  # the test client's own User-Agent
    page = client.get("/account/sessions").get_data(as_text=True)
    assert "FirstBrowser/1.0 <strong>(this browser)</strong>" in page
    assert "Werkzeug/" in page and page.count("<tr>") == 3  # a header row and two logins
    assert f"{utcnow():%Y-%m-%d}" in page


@pytest.fixture
def clock(monkeypatch):
    """Moves the server's clock: clock(hours=13) makes it 13 hours later for the session checks."""

    def later(**delta):
        moved = utcnow() + timedelta(**delta)
        monkeypatch.setattr(sessions, "utcnow", lambda: moved)

    return later


def test_a_session_without_remember_me_ends_on_the_server_after_its_lifetime(app, client, clock):
    register(client)
    session_copy = client.get_cookie("session").value
    clock(seconds=SESSION_FOR.total_seconds() - 60)
    assert logged_in(with_cookie(app, "session", session_copy))
    clock(seconds=SESSION_FOR.total_seconds() + 60)
    assert not logged_in(with_cookie(app, "session", session_copy))
    assert not logged_in(client)


def test_a_remember_cookie_ends_on_the_server_after_thirty_days(app, client, clock):
    register(client)
    logout(client)
    login(client, remember=True)
    remember_copy = client.get_cookie("remember_token").value
    clock(days=REMEMBER_FOR.days - 1)
    assert logged_in(with_cookie(app, "remember_token", remember_copy))
    clock(days=REMEMBER_FOR.days, minutes=1)
    assert not logged_in(with_cookie(app, "remember_token", remember_copy))


def test_the_remember_cookie_differs_from_one_login_to_the_next(client):
    register(client)
    logout(client)
    login(client, remember=True)
    first = client.get_cookie("remember_token").value
    logout(client)
    login(client, remember=True)
    assert client.get_cookie("remember_token").value != first


def test_login_starts_a_new_session_and_csrf_token(client):
    register(client)
    logout(client)
    token_before = csrf_token(client, "/login")
    session_before = client.get_cookie("session").value
    assert login(client).status_code == 302
    assert client.get_cookie("session").value != session_before
    assert csrf_token(client, "/posts/new") != token_before
    # A token someone saw (or planted) before the login does not work after it.
    response = client.post("/posts/new", data={"csrf_token": token_before, "title": "t", "content": "c"})
    assert response.status_code == 400


def test_a_password_change_logs_out_other_devices_but_not_this_one(app, client):
    register(client)
    other_device = app.test_client()
    login(other_device, remember=True)
    remember_copy = other_device.get_cookie("remember_token").value
    response = submit(client, "/account/password",
                      {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert logged_in(client)
    assert not logged_in(other_device)
    assert not logged_in(with_cookie(app, "remember_token", remember_copy))
    logout(client)
    assert login(client, password=PASSWORD).status_code == 422
    assert login(client, password=NEW_PASSWORD).status_code == 302


def test_a_password_change_needs_the_current_password_and_a_good_new_one(client):
    register(client)
    wrong = submit(client, "/account/password", {"current": "not it", "password": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})
    assert wrong.status_code == 422 and "That is not your current password." in wrong.get_data(as_text=True)
    email = submit(client, "/account/password", {"current": PASSWORD, "password": "ada@example.com",
                                                  "confirm": "ada@example.com"})
    assert email.status_code == 422 and "cannot be your email address" in email.get_data(as_text=True)
    assert logged_in(client)


def test_the_password_page_needs_a_login(client):
    assert client.get("/account/password").status_code == 302
