"""Running the EB CLI against a local AWS endpoint, on a git checkout (for tests and make bench)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EB = Path(sys.executable).parent / "eb"


def eb(tree: Path, endpoint: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`eb ARGS` in `tree`, whatever its exit code."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tree.parent)})
    return subprocess.run([str(EB), *args], cwd=tree, env=environ, capture_output=True, text=True, timeout=timeout)


def run_eb(tree: Path, endpoint: str, *args: str) -> str:
    result = eb(tree, endpoint, *args)
    assert result.returncode == 0, f"eb {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def git(tree: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=test@example.com", "-c", "user.name=test", *args], cwd=tree,
                   check=True, capture_output=True)


def eb_ready_checkout(tree: Path, endpoint: str, env: str = "board-eb", *create: str) -> None:
    """A git checkout of `tree` with `eb init` and `eb create` (with `create`'s flags) done, as a user has before
    `eb deploy`."""
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "first")
    run_eb(tree, endpoint, "init", "board", "--platform", "Docker running on 64bit Amazon Linux 2023",
           "--region", "us-east-1")
    run_eb(tree, endpoint, "create", env, "--timeout", "2", *create)
