"""The image Elastic Beanstalk builds: small, unprivileged, one port everywhere, stops gracefully."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from board.config import CONTAINER_PORT
from testkit.compose import docker, wait_for
from testkit.ports import free_port
from testkit.servers import TrafficDuringStop
from testkit.tree import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SIZE_BUDGET_MB = 65  # built on every EB instance at every deploy; 79 MB before pip and setuptools left the venv,
# 63 MB with disarm (its compiled confusable tables, 5 MB: board/names.py)
SECRET = "container-test-secret-" + "x" * 16


@pytest.fixture(scope="module")
def image(docker_engine):
    tag = f"board-test:{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    docker("build", "--quiet", "--tag", tag, str(ROOT))
    print(f"\nimage build: {time.monotonic() - started:.1f} s")
    yield tag
    docker("rmi", "--force", tag, check=False)


@pytest.fixture
def running(image):
    """The image started as EB starts it (production, no AUTO_RELOAD), on a free host port."""
    port = free_port()
    name = "board-test-" + uuid.uuid4().hex[:8]
    docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}",
           "--env", f"SECRET_KEY={SECRET}", "--env", "DATABASE_URL=sqlite:////app/instance/board.sqlite", image)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(base + "/healthz", timeout=2).ok, 30, "the container to serve /healthz")
        yield name, base
    finally:
        docker("rm", "--force", name, check=False)


def test_the_image_runs_as_an_unprivileged_user(image):
    assert docker("run", "--rm", image, "id", "-u").stdout.strip() != "0"


def test_the_image_exposes_the_container_port_alone(image):
    exposed = docker("image", "inspect", "--format", "{{json .Config.ExposedPorts}}", image).stdout
    assert exposed.strip() == f'{{"{CONTAINER_PORT}/tcp":{{}}}}'


def test_gunicorn_binds_the_exposed_port_and_starts_without_errors(running):
    name, _ = running
    logs = docker("logs", name)
    log = logs.stdout + logs.stderr
    assert f"Listening at: http://0.0.0.0:{CONTAINER_PORT}" in log
    # Such as gunicorn's control socket, which the app's user could not create in its home (/app).
    assert "[ERROR]" not in log, log


def test_the_image_holds_the_app_and_nothing_else(image):
    listing = docker("run", "--rm", image, "sh", "-c",
                     "ls -A /app; command -v gcc || true; ls /root/.cache/pip 2>/dev/null || true").stdout.split()
    assert sorted(listing) == ["board", "gunicorn.conf.py", "instance", "migrations", "static"]


def test_image_size_over_the_base_stays_in_budget(image):
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    base = int(docker("image", "inspect", "--format", "{{.Size}}", "python:3.12-slim").stdout)
    added = (size - base) / 1e6
    print(f"\nimage size over python:3.12-slim: {added:.1f} MB (budget {SIZE_BUDGET_MB} MB)")
    assert added < SIZE_BUDGET_MB


def test_the_healthcheck_turns_healthy(running):
    name, _ = running
    wait_for(lambda: docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip() == "healthy",
             60, "docker to report the container healthy", interval=1)


def test_production_without_secret_key_stops_with_one_clear_line(image):
    name = "board-test-" + uuid.uuid4().hex[:8]
    try:
        result = docker("run", "--name", name, "--env", "DATABASE_URL=sqlite:////tmp/x.sqlite", image, check=False,
                        timeout=60)
    finally:
        docker("rm", "--force", name, check=False)
    assert result.returncode != 0
    assert "board: configuration error: SECRET_KEY" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_production_without_a_database_stops_with_one_clear_line(image):
    name = "board-test-" + uuid.uuid4().hex[:8]
    try:
        result = docker("run", "--name", name, "--env", f"SECRET_KEY={SECRET}", image, check=False, timeout=60)
    finally:
        docker("rm", "--force", name, check=False)
    assert result.returncode != 0
    assert "board: configuration error: no database is configured" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_docker_stop_finishes_in_flight_requests_and_exits_0(running):
    name, _ = running
    # Straight to the container, not through the published port: docker's port
    # proxy accepts every connection itself, so a refusal would look like a drop.
    address = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
    with TrafficDuringStop(f"http://{address.stdout.strip()}:{CONTAINER_PORT}", "/about") as traffic:
        started = time.monotonic()
        docker("stop", "--time", "10", name)
        took = time.monotonic() - started
    exit_code = int(docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout)
    print(f"\ndocker stop took {took:.2f} s with 3 uploads in flight and 4 visitors")
    assert traffic.uploads == [400, 400, 400]
    assert exit_code == 0
    assert took < 10
    assert traffic.problems() == []
