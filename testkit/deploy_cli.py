"""`python -m deploy` as a user runs it, in a checkout, against a local AWS endpoint with dummy credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testkit.tree import ROOT


def deploy_cli(endpoint: str, *args: str, tree: Path = ROOT, poll: str = "0.05",
               timeout: float = 600) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_EC2_METADATA_DISABLED": "true"})
    return subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--endpoint-url", endpoint,
                           "--poll", poll, *args], cwd=tree, env=environ, capture_output=True, text=True,
                          timeout=timeout)
