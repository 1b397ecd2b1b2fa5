"""Driving a real Docker engine: availability, a compose project in a temp copy, HTTP helpers."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import requests

from testkit.components import unavailable
from testkit.ports import free_port
from testkit.tree import copy_tree


def require_docker() -> None:
    if shutil.which("docker") is None:
        unavailable("REQUIRE_DOCKER", "no docker CLI on PATH (run ../shared/container-host/up)")
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        unavailable("REQUIRE_DOCKER", f"no Docker engine answers: {info.stderr.strip()[:200]}")
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if compose.returncode != 0:
        unavailable("REQUIRE_DOCKER", "docker compose v2 is not installed")


def docker(*args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except (requests.RequestException, ValueError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class Project:
    """A compose project from a copy of the repo, under a unique name and host port."""

    def __init__(self, tmp_path: Path):
        self.dir = copy_tree(tmp_path / "board")
        self.name = "boardtest" + uuid.uuid4().hex[:8]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        import os

        return {**os.environ, "COMPOSE_PROJECT_NAME": self.name, "BOARD_HTTP_PORT": str(self.port)}

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return docker("compose", *args, check=check, timeout=timeout, cwd=self.dir, env=self.env())

    def popen(self, *args: str, log: Path) -> subprocess.Popen:
        handle = open(log, "w")  # noqa: SIM115 (owned by the process; closed with it)
        return subprocess.Popen(["docker", "compose", *args], cwd=self.dir, env=self.env(), stdout=handle,
                                stderr=subprocess.STDOUT)

    def up(self) -> None:
        self.compose("up", "--wait", "--detach", "--build")

    def down(self, volumes: bool = True) -> None:
        self.compose("down", "--timeout", "5", *(["--volumes"] if volumes else []), "--remove-orphans",
                     check=False)

    def container_id(self, service: str) -> str | None:
        """The service's container, or None (also while compose is replacing it)."""
        listed = self.compose("ps", "--all", "--quiet", service, check=False)
        ids = listed.stdout.split() if listed.returncode == 0 else []
        return ids[0] if ids else None

    def container(self, service: str) -> str:
        container = self.container_id(service)
        assert container, f"no container for {service}"
        return container

    def exit_code(self, service: str) -> int:
        return int(docker("inspect", "--format", "{{.State.ExitCode}}", self.container(service)).stdout)

    def started_at(self, service: str) -> str:
        """When the service's container started; "" while compose is replacing it (it may vanish mid-call)."""
        container = self.container_id(service)
        if container is None:
            return ""
        result = docker("inspect", "--format", "{{.State.StartedAt}}", container, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.base + path, timeout=5, **kwargs)


def csrf_token(session: requests.Session, url: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', session.get(url, timeout=5).text)
    assert match, f"no CSRF token on {url}"
    return match[1]


def register_and_post(base: str, title: str) -> requests.Session:
    """What a visitor does over HTTP: register, then publish a post."""
    session = requests.Session()
    password = "correct horse battery"
    response = session.post(base + "/register", data={
        "csrf_token": csrf_token(session, base + "/register"), "name": "Ada",
        "email": f"ada-{uuid.uuid4().hex[:6]}@example.com", "password": password, "confirm": password}, timeout=10)
    assert response.ok and "Log out" in response.text, response.text[:500]
    response = session.post(base + "/posts/new", data={
        "csrf_token": csrf_token(session, base + "/posts/new"), "title": title, "content": "Sent over HTTP."},
        timeout=10)
    assert response.ok and title in response.text, response.text[:500]
    return session
