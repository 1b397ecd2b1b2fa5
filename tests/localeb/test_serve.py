"""`python -m localeb serve` as a user starts it: `eb create`/`eb deploy` and `python -m deploy release`,
pointed at it with AWS_ENDPOINT_URL, deploy to local instances that really serve the versions."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading

import pytest
import requests

from deploy.release import default_label
from localeb.docker import docker
from localeb.fleet import LABEL
from testkit.ebcli import eb_ready_checkout, git, run_eb
from testkit.ports import free_port
from testkit.readme import cloned, shell_blocks
from testkit.tree import ROOT, copy_tree

from .conftest import version
from .test_release import DATABASE

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ENV = "board-served"


class Served:
    """The command in a process of its own; its output lines arrive on a queue."""

    def __init__(self):
        self.port, first = free_port(), free_port()
        self.process = subprocess.Popen([sys.executable, "-m", "localeb", "serve", "--port", str(self.port),
                                         "--first-port", str(first)], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match:
        while True:
            line = self.lines.get(timeout=timeout)
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def without_aws() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}


def rehearsal_blocks() -> list[str]:
    """The README's two blocks for a rehearsal on the local Elastic Beanstalk: the command, then what to paste."""
    text = (ROOT / "README.md").read_text()
    part = re.search(r"^### 1\. Rehearse.*?\n(.*?)(?=^### )", text, flags=re.MULTILINE | re.DOTALL).group(1)
    return shell_blocks(part)


def deploy(endpoint: str, tree, *args: str) -> subprocess.CompletedProcess:
    """`python -m deploy ARGS` with the environment the command tells its user to export."""
    environ = without_aws()
    environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    result = subprocess.run([sys.executable, "-m", "deploy", *args, "--poll", "0.2"], cwd=tree, env=environ,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_eb_deploy_and_deploy_release_against_the_served_endpoint_reach_local_instances(docker_engine, tmp_path):
    served = Served()
    try:
        served.wait_for(r"Elastic Beanstalk .* at http://127\.0\.0\.1:\d+", timeout=120)
        database = served.wait_for(r"--database-url`: (postgresql://\S+)").group(1)
        tree = copy_tree(tmp_path / "board")
        eb_ready_checkout(tree, served.endpoint, ENV, *DATABASE)  # eb init, eb create with its database
        url = served.wait_for(rf"^{ENV}: 1 docker instance\(s\) behind (http://\S+)").group(1)
        assert requests.get(url + "/healthz", timeout=5).ok

        (tree / "board/templates/about.html").write_text("{% extends 'base.html' %}"
                                                         "{% block content %}deployed by eb{% endblock %}")
        git(tree, "commit", "-qam", "second")
        assert "Environment update completed successfully." in run_eb(tree, served.endpoint, "deploy",
                                                                      "--timeout", "5")
        assert "deployed by eb" in requests.get(url + "/about", timeout=5).text

        deploy(served.endpoint, tree, "release", "--app", "board", "--env", ENV, "--label", "by-deploy-tool")
        assert version(url) == "by-deploy-tool"

        # The README's rehearsal, as a reader pastes it: provision on the printed database, then release.
        start, commands = rehearsal_blocks()
        assert start.split("#")[0].split() == [".venv/bin/python", "-m", "localeb", "serve"]
        readme_tree = cloned(tmp_path / "readme")
        (readme_tree / ".venv").symlink_to(ROOT / ".venv")
        pasted = commands.replace("127.0.0.1:4566", f"127.0.0.1:{served.port}").replace("<printed-url>", database)
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", pasted], cwd=readme_tree, capture_output=True,
                                text=True, timeout=900, env=without_aws())
        assert result.returncode == 0, result.stdout + result.stderr
        url = served.wait_for(r"^board-prod: 1 docker instance\(s\) behind (http://\S+)").group(1)
        assert version(url) == default_label(readme_tree)  # the commit's label, which release chose
    finally:
        served.process.send_signal(signal.SIGINT)
        served.process.wait(timeout=180)
    assert served.process.returncode == 0
    # By name in one call: other tests' fleets may come and go meanwhile.
    left = docker("ps", "--all", "--filter", f"label={LABEL}", "--format", "{{.Names}}").stdout.split()
    assert not [name for name in left if ENV in name]
