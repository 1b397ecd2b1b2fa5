"""Register, log in and out, remember me, safe redirects, CSRF."""

import pytest

from board import devices, models, throttle
from board.auth import BAD_LOGIN, safe_next
from board.extensions import db
from board.models import Author, LoginThrottle
from tests.board.browsing import PASSWORD, author, count, csrf_token, login, logout, register, submit
from tests.conftest import make_app


def test_register_logs_the_new_author_in_and_stores_a_hash(app, client):
    response = register(client, email="Ada@Example.COM", follow_redirects=True)
    assert response.status_code == 200
    assert "Welcome, Ada!" in response.get_data(as_text=True)
    stored = author(app, "ada@example.com")
    assert stored is not None and PASSWORD not in stored.password_hash
    assert stored.check_password(PASSWORD)


def test_register_refuses_an_email_already_taken_in_any_case(app, client):
    register(client)
    logout(client)
    response = register(client, email="ADA@example.com", name="Other Ada")
    assert response.status_code == 422
    assert "An account with this email already exists." in response.get_data(as_text=True)
    assert count(app, Author) == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    ("password", "short", "Use between 8 and 256 characters."),
    ("email", "not-an-email", "That does not look like an email address."),
    ("name", "   ", "Please enter your name."),
])
def test_register_explains_bad_input_and_keeps_what_was_typed(app, client, field, value, message):
    data = {"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD, field: value}
    if field == "password":
        data["confirm"] = value
    response = submit(client, "/register", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page
    if field != "email":
        assert 'value="ada@example.com"' in page
    assert count(app, Author) == 0


def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    register(client)
    logout(client)
    wrong_password = login(client, password="not the password")
    unknown_email = login(client, email="nobody@example.com")
    assert wrong_password.status_code == unknown_email.status_code == 422
    assert BAD_LOGIN in wrong_password.get_data(as_text=True)
    assert BAD_LOGIN in unknown_email.get_data(as_text=True)


def test_login_logout_round_trip(client):
    register(client)
    logout(client)
    assert "Log in" in client.get("/").get_data(as_text=True)
    response = login(client, email="ADA@example.com")
    assert response.status_code == 302
    assert "Log out" in client.get("/").get_data(as_text=True)
    logout(client)
    assert client.get("/posts/new").status_code == 302  # back to the login page


def test_remember_me_sets_a_lasting_httponly_cookie(client):
    register(client)
    logout(client)
    login(client, remember=True)
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.expires is not None and cookie.http_only


def test_without_remember_me_there_is_no_remember_cookie(client):
    register(client)
    logout(client)
    login(client)
    assert client.get_cookie("remember_token") is None


def test_logout_without_a_csrf_token_is_refused(client):
    register(client)
    response = client.post("/logout")
    assert response.status_code == 400
    assert "Log out" in client.get("/").get_data(as_text=True)


def test_login_follows_a_local_next_path(client):
    register(client)
    logout(client)
    response = login(client, next_url="/posts/new")
    assert response.headers["Location"] == "/posts/new"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "\\\\evil.example", "/\\evil.example",
                                    "javascript:alert(1)", "/\nevil", "http:/evil"])
def test_login_refuses_to_redirect_off_site(client, target):
    register(client)
    logout(client)
    response = submit(client, "/login", {"email": "ada@example.com", "password": PASSWORD},
                      form_page="/login", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(("target", "safe"), [
    ("/posts/new", True), ("/?before=abc", True), ("//evil", False), ("/\\evil", False), ("/\nevil", False),
    ("https://evil/", False), ("", False), (None, False)])
def test_safe_next(target, safe):
    assert safe_next(target) == (target if safe else None)


def test_profile_lists_the_authors_posts(client):
    register(client)
    submit(client, "/posts/new", {"title": "Mine", "content": "x"})
    page = client.get("/authors/1").get_data(as_text=True)
    assert "Ada" in page and "Mine" in page
    assert client.get("/authors/999").status_code == 404


def test_forms_carry_a_csrf_token(client):
    assert csrf_token(client, "/register")


def test_a_nul_in_the_login_email_is_a_form_error_not_a_crash(client):
    response = submit(client, "/login", {"email": "ada\x00@example.com", "password": PASSWORD})
    assert response.status_code == 422
    assert "invisible control characters" in response.get_data(as_text=True)


def from_client(client, address: str | None = None, forwarded_for: str | None = None):
    """The test client, seen as coming from `address`, its requests carrying this X-Forwarded-For."""
    if address is not None:
        client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def test_ten_attempts_from_one_client_lock_that_client_out_of_the_address_for_a_while(app, client):
    register(client)
    logout(client)
    for _ in range(throttle.PER_CLIENT):
        assert login(client, password="not the password").status_code == 422
    locked = login(client)
    assert locked.status_code == 429
    assert "Too many attempts to log in to this address. Try again in 15 minutes." in locked.get_data(as_text=True)
    assert locked.headers["Retry-After"] == "900"
    assert client.get("/posts/new").status_code == 302  # still logged out
    assert login(client, email="someone@example.com").status_code == 422  # other addresses are not affected

    with app.app_context():  # the window passes
        for row in db.session.query(LoginThrottle):
            row.since -= throttle.WINDOW
        db.session.commit()
    assert login(client).status_code == 302
    logout(client)
    assert login(client, password="not the password").status_code == 422  # the count started again


def test_a_stranger_cannot_lock_the_owner_out(app):
    owner, stranger = from_client(app.test_client(), "198.51.100.7"), from_client(app.test_client(), "203.0.113.9")
    register(owner)
    logout(owner)
    for _ in range(throttle.PER_CLIENT + 2):
        login(stranger, password="not the password")
    assert login(stranger).status_code == 429
    assert login(owner).status_code == 302


def test_every_client_together_stops_at_the_address_ceiling(app, monkeypatch):
    monkeypatch.setattr(throttle, "PER_ADDRESS", 3)
    register(app.test_client())
    for n in range(3):
        assert login(from_client(app.test_client(), f"203.0.113.{n}"), password="not the password").status_code == 422
    assert login(from_client(app.test_client(), "198.51.100.7")).status_code == 429


def test_unknown_addresses_lock_the_same_way_so_a_lock_reveals_no_account(client):
    for _ in range(throttle.PER_CLIENT):
        assert login(client, email="nobody@example.com").status_code == 422
    assert login(client, email="NOBODY@example.com").status_code == 429


def test_a_good_login_clears_the_clients_count_and_gives_its_attempt_back(app, client):
    register(client)
    logout(client)
    for _ in range(2):
        client.delete_cookie(devices.COOKIE)  # counted as a browser new to the account
        for _ in range(throttle.PER_CLIENT - 1):
            login(client, password="not the password")
        assert login(client).status_code == 302
        logout(client)
    with app.app_context():
        counts = {(row.email, row.client): row.attempts for row in db.session.query(LoginThrottle)}
    # The network's count across addresses keeps the registration and the wrong passwords.
    assert counts == {("ada@example.com", throttle.ALL_CLIENTS): 2 * (throttle.PER_CLIENT - 1),
                      (throttle.ANY_ADDRESS, "ip:127.0.0.1"): 1 + 2 * (throttle.PER_CLIENT - 1)}


def test_an_address_longer_than_any_account_is_refused_and_not_stored(app, client):
    response = login(client, email="x" * 300 + "@example.com")
    assert response.status_code == 422
    assert "No account has an email address that long." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(LoginThrottle).count() == 0


def test_an_address_that_grows_when_lower_cased_is_refused_not_a_crash(app, client):
    # "İ" lower-cases to two characters: 128 of them fit the form but not the column.
    response = login(client, email="İ" * 128)
    assert response.status_code == 422
    assert "No account has an email address that long." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(LoginThrottle).count() == 0


def test_ended_windows_are_dropped_so_tried_addresses_do_not_pile_up(app, client):
    for n in range(3):
        login(client, email=f"guess{n}@example.com")
    with app.app_context():
        for row in db.session.query(LoginThrottle):
            row.since -= throttle.WINDOW
        db.session.commit()
    login(client, email="guess0@example.com")
    with app.app_context():
        rows = {(row.email, row.attempts) for row in db.session.query(LoginThrottle)}
    assert rows == {("guess0@example.com", 1), (throttle.ANY_ADDRESS, 1)}


@pytest.fixture
def password_checks(monkeypatch):
    """Every password hash verification the app makes, counted."""
    calls = []
    original = models.check_password_hash

    def counting(stored, password):
        calls.append(stored)
        return original(stored, password)

    monkeypatch.setattr(models, "check_password_hash", counting)
    return calls


def test_known_and_unknown_emails_cost_the_same_password_checks(client, password_checks):
    register(client)
    logout(client)
    login(client, password="not the password")
    known = len(password_checks)
    login(client, email="nobody@example.com")
    unknown = len(password_checks) - known
    assert known == unknown == 1


def test_a_refused_attempt_checks_no_password(client, password_checks):
    for _ in range(throttle.PER_CLIENT):
        login(client, password="not the password")
    assert login(client).status_code == 429
    assert len(password_checks) == throttle.PER_CLIENT


def test_made_up_forwarded_for_values_do_not_make_a_client_new(app, client):
    # Without a proxy in front (PROXY_HOPS=0: make run, compose) the header is the client's own say.
    register(client)
    logout(client)
    client.delete_cookie(devices.COOKIE)
    for n in range(throttle.PER_CLIENT):
        assert login(from_client(client, forwarded_for=f"192.0.2.{n}"), password="not the password").status_code == 422
    assert login(from_client(client, forwarded_for="192.0.2.200")).status_code == 429


@pytest.fixture(params=[1, 2], ids=["nginx", "alb-and-nginx"])
def behind_proxies(request, database_url):
    """The app behind 1 or 2 trusted proxies, and what they append after the client's own X-Forwarded-For."""
    hops = request.param
    app = make_app(database_url, environ={"PROXY_HOPS": str(hops)})
    yield app, [] if hops == 1 else ["10.0.3.17"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_behind_proxies_the_client_is_the_address_they_added(behind_proxies):
    app, inner = behind_proxies
    owner, stranger = app.test_client(), app.test_client()
    register(from_client(owner, forwarded_for=", ".join(["198.51.100.7", *inner])))
    logout(owner)
    owner.delete_cookie(devices.COOKIE)
    for n in range(throttle.PER_CLIENT):
        chain = ", ".join([f"192.0.2.{n}", "203.0.113.9", *inner])  # made up by the stranger, then theirs
        assert login(from_client(stranger, forwarded_for=chain), password="not the password").status_code == 422
    chain = ", ".join(["192.0.2.99", "203.0.113.9", *inner])
    assert login(from_client(stranger, forwarded_for=chain)).status_code == 429
    assert login(owner).status_code == 302


def test_one_stranger_never_reaches_the_ceiling_all_clients_share(app, monkeypatch):
    monkeypatch.setattr(throttle, "PER_ADDRESS", throttle.PER_CLIENT + 2)
    owner = from_client(app.test_client(), "198.51.100.7")
    register(owner)
    logout(owner)
    owner.delete_cookie(devices.COOKIE)
    stranger = from_client(app.test_client(), "203.0.113.9")
    for n in range(throttle.PER_ADDRESS + 1):
        login(from_client(stranger, forwarded_for=f"192.0.2.{n}"), password="not the password")
    assert login(owner).status_code == 302


def test_a_browser_that_logged_in_keeps_its_allowance_while_many_clients_guess(app, monkeypatch):
    monkeypatch.setattr(throttle, "PER_ADDRESS", 3)
    owner = from_client(app.test_client(), "198.51.100.7")
    register(owner)
    logout(owner)
    for n in range(4):  # a campaign from many networks fills the address's shared count
        login(from_client(app.test_client(), f"203.0.113.{n}"), password="not the password")
    new_browser = from_client(app.test_client(), "198.51.100.7")
    assert login(new_browser).status_code == 429
    assert login(owner).status_code == 302  # the device cookie the registration left
    response = submit(owner, "/account/password", {"current": PASSWORD, "password": "a much longer passphrase",
                                                   "confirm": "a much longer passphrase"})
    assert response.status_code == 302


def test_a_device_cookie_helps_only_its_own_account_and_cannot_be_made_up(app, monkeypatch):
    monkeypatch.setattr(throttle, "PER_ADDRESS", 3)
    register(app.test_client())
    for n in range(4):
        login(from_client(app.test_client(), f"203.0.113.{n}"), password="not the password")
    stranger = from_client(app.test_client(), "192.0.2.1")
    register(stranger, email="stranger@example.com", name="Stranger")
    logout(stranger)
    assert login(stranger).status_code == 429  # their cookie names their own account
    for forged in ("x", "é", devices.COOKIE * 40):
        stranger.set_cookie(devices.COOKIE, forged)
        assert login(stranger).status_code == 429


def test_a_browsers_own_allowance_runs_out_too(client):
    register(client)
    logout(client)
    for _ in range(throttle.PER_CLIENT):
        assert login(client, password="not the password").status_code == 422
    assert login(client).status_code == 429


def test_one_network_gets_a_limited_number_of_password_hashes_across_addresses(app, monkeypatch):
    monkeypatch.setattr(throttle, "PER_NETWORK", 3)
    client = from_client(app.test_client(), "203.0.113.9")
    for n in range(3):
        assert login(client, email=f"guess{n}@example.com").status_code == 422
    refused = login(client, email="guess3@example.com")
    assert refused.status_code == 429
    assert "Too many attempts from your network. Try again in 15 minutes." in refused.get_data(as_text=True)
    assert register(client).status_code == 429
    assert count(app, Author) == 0
    assert register(from_client(app.test_client(), "198.51.100.7")).status_code == 302  # other networks go on


def test_registration_is_throttled_per_network_so_it_cannot_harvest_accounts(app, monkeypatch):
    monkeypatch.setattr(throttle, "PER_NETWORK", 3)
    register(app.test_client(), email="taken@example.com")
    prober = from_client(app.test_client(), "203.0.113.9")
    for n in range(3):
        assert register(prober, email=f"probe{n}@example.com").status_code == 302
        logout(prober)
    refused = register(prober, email="taken@example.com")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Too many attempts from your network." in page and "already exists" not in page
    assert refused.headers["Retry-After"] == "900"
    assert count(app, Author) == 4
