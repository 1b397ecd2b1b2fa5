"""`python -m localeb run` on this repo: a visitor's session over plain HTTP through nginx, then Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from localeb.docker import docker
from testkit.ports import free_port
from testkit.tree import ROOT

from .conftest import made_up_forwarded_for_buys_no_attempts, visit_register_log_in_post_log_out

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(docker_engine):
    """The command running on a free port until it says it serves; yields (url, process, its output so far).
    One run for the module: the Ctrl-C test, last, ends it."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "localeb", "run", "--port", str(port), "--label", "cli-test"],
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
    visit_register_log_in_post_log_out(url)


def test_a_client_cannot_make_itself_new_with_x_forwarded_for(served):
    url, _, _ = served
    made_up_forwarded_for_buys_no_attempts(url)


def test_ctrl_c_stops_and_removes_everything_it_started(served):
    _, process, lines = served
    name = re.search(r"starting local environment (\S+):", "".join(lines))[1]
    assert docker("ps", "--quiet", "--filter", f"label=board.local={name}").stdout.strip()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 0
    for label in (f"board.local={name}", f"board.local.app={name}"):
        assert docker("ps", "--all", "--quiet", "--filter", f"label={label}").stdout.strip() == ""
