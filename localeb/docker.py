"""The host's docker CLI: the one way the local instance reaches the engine from outside."""

from __future__ import annotations

import os
import shutil
import subprocess

from .errors import LocalEBError


def available() -> str | None:
    """Why Docker cannot be used here, or None when an engine answers."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH: install Docker to run the local instance"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        return f"the Docker engine does not answer: {info.stderr.strip().splitlines()[-1] if info.stderr else ''}"
    return None


def docker(*args: str, check: bool = True, env: dict | None = None, timeout: float = 900,
           input: str | None = None) -> subprocess.CompletedProcess:
    """Run `docker ARGS`, output captured; `env` adds variables to the CLI's own environment
    (values passed by name with `-e NAME` travel this way, never on a command line)."""
    environ = {**os.environ, **(env or {})}
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=environ,
                            input=input)
    if check and result.returncode != 0:
        raise LocalEBError(f"docker {args[0]} failed: {(result.stderr or result.stdout).strip()[-500:]}")
    return result


def address(container: str) -> str:
    """The container's IP address on the default bridge, where the platform's containers meet."""
    return docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", container).stdout.strip()
