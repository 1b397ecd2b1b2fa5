"""A real container registry on a free loopback port: the CNCF distribution server (Debian: `docker-registry`),
where the local ECR (ecr_api.py) keeps the images.

The Docker engine trusts registries on 127.0.0.0/8 over plain HTTP by default, so pushes and pulls need
no TLS. Storage is a throwaway folder; `stop()` removes both.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from .errors import LocalEBError

BINARIES = ("docker-registry", "registry")  # Debian's name, upstream's
MISSING = "no docker-registry on PATH (Debian: apt-get install docker-registry)"


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def binary() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


class Registry:
    def __init__(self, folder: Path, process: subprocess.Popen, host: str):
        self.folder, self.process, self.host = folder, process, host

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(timeout: float = 20, users: dict[str, str] | None = None) -> Registry:
    """Start one registry (deletes allowed) and wait until its API answers; with `users` (name → password) it
    asks for them (htpasswd, bcrypt), as a private registry does."""
    program = binary()
    if program is None:
        raise LocalEBError(MISSING)
    folder = Path(tempfile.mkdtemp(prefix="board-registry-"))
    host = f"127.0.0.1:{free_port()}"
    auth = ""
    if users:
        import bcrypt

        (folder / "htpasswd").write_text("".join(
            f"{name}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}\n"
            for name, password in users.items()))
        auth = f"auth:\n  htpasswd:\n    realm: board-tests\n    path: {folder / 'htpasswd'}\n"
    (folder / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {host}\n" + auth)
    log = open(folder / "registry.log", "wb")  # noqa: SIM115 (closed by the process's end)
    process = subprocess.Popen([program, "serve", str(folder / "config.yml")], stdout=log, stderr=log)
    registry = Registry(folder, process, host)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{registry.url}/v2/", timeout=2).status_code in (200, 401):
                return registry
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = (folder / "registry.log").read_text(errors="replace")[-500:]
            registry.stop()
            raise LocalEBError(f"the local registry did not start: {output}")
        time.sleep(0.1)
