"""Login throttling under concurrency, through real HTTP to gunicorn's threads on PostgreSQL."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from board import throttle
from tests.reliability.conftest import flask, production_server

pytestmark = pytest.mark.reliability

# Loaded by the server's Python at start-up (PYTHONPATH): every password hash verification the
# app makes, in any worker, appends a line to PASSWORD_CHECKS_FILE.
COUNTING_SITECUSTOMIZE = """
import os
import werkzeug.security

_check = werkzeug.security.check_password_hash


def check_password_hash(stored, password):
    with open(os.environ["PASSWORD_CHECKS_FILE"], "a") as checks:
        checks.write("check\\n")
    return _check(stored, password)


werkzeug.security.check_password_hash = check_password_hash
"""


def csrf_session(base: str, page: str = "/login") -> tuple[requests.Session, str]:
    session = requests.Session()
    text = session.get(base + page).text
    return session, re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text)[1]


def register_victim(base: str) -> None:
    session, token = csrf_session(base, "/register")
    password = "the victim's own passphrase"
    response = session.post(base + "/register", allow_redirects=False, data={
        "csrf_token": token, "name": "Victim", "email": "victim@example.com", "password": password,
        "confirm": password})
    assert response.status_code == 302, response.text


def test_sixty_parallel_wrong_passwords_get_at_most_ten_password_checks(postgres_database, tmp_path):
    flask(postgres_database, "db", "upgrade")
    (tmp_path / "sitecustomize.py").write_text(COUNTING_SITECUSTOMIZE)
    checks = tmp_path / "checks"
    checks.touch()
    # Development only for the cookie's Secure flag (this test talks plain HTTP); two workers of eight threads.
    with production_server(postgres_database, tmp_path / "gunicorn.log", APP_ENV="development",
                           WEB_CONCURRENCY="2", GUNICORN_THREADS="8", PYTHONPATH=str(tmp_path),
                           PASSWORD_CHECKS_FILE=str(checks)) as (base, _):
        register_victim(base)
        session, token = csrf_session(base)
        cookies = session.cookies.get_dict()
        checks.write_text("")  # registering hashes a password but checks none; count from here
        start = threading.Barrier(60)

        def guess(n: int) -> int:
            start.wait(timeout=30)
            return requests.post(base + "/login", cookies=cookies, allow_redirects=False, timeout=60,
                                 data={"csrf_token": token, "email": "victim@example.com",
                                       "password": f"guess number {n}"}).status_code

        with ThreadPoolExecutor(60) as pool:
            statuses = list(pool.map(guess, range(60)))
    made = len(checks.read_text().splitlines())
    assert sorted(set(statuses)) == [422, 429], statuses
    assert made == statuses.count(422) <= throttle.PER_CLIENT, (made, statuses)
