"""Local EB environments for the tests: bundles from edited copies of this repo, one shared fleet a module."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from board.throttle import PER_CLIENT
from deploy.bundle import write_bundle
from localeb import Fleet
from testkit.compose import csrf_token
from testkit.ports import free_port
from testkit.tree import ROOT, broken_migration, copy_tree

BROKEN_MIGRATION = broken_migration("9999_broken")


def version(url: str) -> str:
    return requests.get(url + "/version", timeout=5).json()["version"]


@pytest.fixture(scope="module")
def make_bundle(tmp_path_factory) -> Callable[..., Path]:
    """A bundle of this repo, after `edit(tree)` changed a copy of it."""
    def make(name: str, edit: Callable[[Path], None] | None = None) -> Path:
        folder = tmp_path_factory.mktemp(name)
        tree = copy_tree(folder / "tree") if edit else ROOT
        if edit:
            edit(tree)
        return write_bundle(tree, folder / f"{name}.zip")
    return make


@contextmanager
def serving_v1(make_bundle, instances: int = 1, health_wait: float = 60):
    """Instances serving this repo as version v1 (with their own PostgreSQL)."""
    with Fleet(instances=instances, port=free_port(), echo=lambda line: None, health_wait=health_wait) as started:
        result = started.deploy(make_bundle("v1"), label="v1")
        assert result.ok, [outcome.log for outcome in result.outcomes]
        yield started


@pytest.fixture(scope="module")
def fleet(docker_engine, make_bundle):
    """One instance serving v1, for the module's tests."""
    with serving_v1(make_bundle) as started:
        yield started


def visit_register_log_in_post_log_out(url: str) -> None:
    """A visitor's session over plain http through the local instance's nginx."""
    browser = requests.Session()  # keeps cookies as a browser does: a Secure cookie is never sent over http
    assert browser.get(url + "/", timeout=10).status_code == 200
    token = csrf_token(browser, url + "/register")
    assert not [cookie.name for cookie in browser.cookies if cookie.secure], "a Secure cookie over plain http"
    email, password = f"ada-{uuid.uuid4().hex[:6]}@example.com", "correct horse battery"
    registered = browser.post(url + "/register", timeout=10, data={
        "csrf_token": token, "name": "Ada", "email": email, "password": password, "confirm": password})
    assert "Log out" in registered.text, registered.text[:300]
    browser.post(url + "/logout", data={"csrf_token": csrf_token(browser, url + "/")}, timeout=10)
    logged_in = browser.post(url + "/login", timeout=10, data={
        "csrf_token": csrf_token(browser, url + "/login"), "email": email, "password": password})
    assert "Log out" in logged_in.text, logged_in.text[:300]
    posted = browser.post(url + "/posts/new", timeout=10, data={
        "csrf_token": csrf_token(browser, url + "/posts/new"), "title": "Through nginx", "content": "Over http."})
    assert posted.ok and "Through nginx" in posted.text
    out = browser.post(url + "/logout", data={"csrf_token": csrf_token(browser, url + "/")}, timeout=10)
    assert "Log in" in out.text and "Log out" not in out.text
    assert "Through nginx" in requests.get(url + "/", timeout=10).text


def made_up_forwarded_for_buys_no_attempts(url: str) -> None:
    """A client writing a new X-Forwarded-For at each login attempt stays one client: the app takes the address
    the platform's proxies added (PROXY_HOPS, board.conf), so its attempts stop at its own limit."""
    browser = requests.Session()
    email = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    statuses = [browser.post(url + "/login", headers={"X-Forwarded-For": f"192.0.2.{n}"}, timeout=10, data={
        "csrf_token": csrf_token(browser, url + "/login"), "email": email, "password": "a guess"}).status_code
        for n in range(PER_CLIENT + 1)]
    assert statuses == [422] * PER_CLIENT + [429], statuses
