"""`python -m deploy local` on this repo: a visitor's session over plain HTTP through nginx, then Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid

import pytest
import requests

from deploy.local.docker import docker
from testkit.compose import csrf_token
from testkit.ports import free_port
from testkit.tree import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(docker_engine):
    """The command running on a free port until it says it serves; yields (url, process, its output so far).
    One run for the module: the Ctrl-C test, last, ends it."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "deploy", "local", "--port", str(port), "--label", "cli-test"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("serving ") or "deployment failed" in line:
                break
        assert any(line.startswith("serving cli-test") for line in lines), "".join(lines)
        yield f"http://127.0.0.1:{port}", process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()


def test_deploy_local_prints_the_platform_steps_in_order(served):
    _, _, lines = served
    text = "".join(lines)
    steps = ["StageApplication", "EbExtensionPreBuild", "RunAppDeployPreBuildHooks",
             "Docker Specific Build Application", "EbExtensionPostBuild", "RunAppDeployPreDeployHooks",
             "nginx -t -c /var/proxy/staging/nginx/nginx.conf", "Docker Specific Start App",
             "RunAppDeployPostDeployHooks", "Health check /healthz: 200: Ok"]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)


def test_a_visitor_registers_logs_in_posts_and_logs_out_over_http(served):
    url, _, _ = served
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


def test_ctrl_c_stops_and_removes_everything_it_started(served):
    _, process, lines = served
    name = re.search(r"starting local environment (\S+):", "".join(lines))[1]
    assert docker("ps", "--quiet", "--filter", f"label=board.local={name}").stdout.strip()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 0
    for label in (f"board.local={name}", f"board.local.app={name}"):
        assert docker("ps", "--all", "--quiet", "--filter", f"label={label}").stdout.strip() == ""
