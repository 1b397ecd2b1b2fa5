"""Sessions that really end: logout and a password change end every copy of an author's cookies."""

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


def test_logout_ends_the_authors_sessions_on_other_devices(app, client):
    register(client)
    other_device = app.test_client()
    login(other_device, remember=True)
    assert logged_in(other_device)
    logout(client)
    assert not logged_in(other_device)


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
    response = submit(client, "/account/password",
                      {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert logged_in(client)
    assert not logged_in(other_device)
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
