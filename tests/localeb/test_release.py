"""`python -m deploy release` against local AWS whose environment runs on local EB instances:
the new version really serves at /version, and a broken one really fails and is rolled back."""

from __future__ import annotations

import subprocess

import boto3
import pytest
import requests

from localeb import Fleet, eb_api
from localeb.docker import docker
from localeb.fleet import LABEL
from testkit.deploy_cli import deploy_cli
from testkit.ebcli import eb, eb_ready_checkout, git, run_eb
from testkit.ports import free_port
from testkit.rollouts import exits_at_boot
from testkit.tree import ROOT, copy_tree

from .conftest import BROKEN_MIGRATION, version

pytestmark = [pytest.mark.docker, pytest.mark.slow]
APP, ENV = "board", "board-local"
DATABASE = ("--database", "--database.engine", "postgres", "--database.version", "17", "--database.instance",
            "db.t4g.micro", "--database.username", "board", "--database.password", "local-stand-in")


def cli(endpoint: str, tree, *args: str) -> subprocess.CompletedProcess:
    return deploy_cli(endpoint, *args, tree=tree, poll="0.2", timeout=900)


def app_environment(fleet) -> dict[str, str]:
    """The environment of the app container now serving on the fleet's first instance."""
    names = docker("ps", "--quiet", "--filter", f"label={LABEL}.app={fleet.name}").stdout.split()
    listed = docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", names[0]).stdout
    return dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)


def test_release_serves_the_new_version_and_rolls_a_broken_one_back(docker_engine, server, tmp_path):
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=60) as fleet:
        eb_api.attach(ENV, fleet)
        # The fleet's PostgreSQL stands in for the database provision would create; its URL goes to Secrets
        # Manager and reaches the instances through environmentsecrets, SECRET_KEY through SSM.
        url = eb_api.stand_in_database_url(fleet)
        provisioned = cli(server, ROOT, "provision", "--app", APP, "--env", ENV, "--database-url", url)
        assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
        first = cli(server, ROOT, "release", "--app", APP, "--env", ENV, "--label", "v1")
        assert first.returncode == 0, first.stdout + first.stderr
        assert version(fleet.url) == "v1"
        ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url=server)
        key = ssm.get_parameter(Name=f"/{APP}/{ENV}/SECRET_KEY", WithDecryption=True)["Parameter"]["Value"]
        assert app_environment(fleet)["SECRET_KEY"] == key and app_environment(fleet)["DATABASE_URL"] == url

        broken = copy_tree(tmp_path / "broken")
        (broken / "migrations/versions/9999_broken.py").write_text(BROKEN_MIGRATION)
        # Past the gate (which would refuse it first): this is about EB's own failure path.
        failed = cli(server, broken, "release", "--app", APP, "--env", ENV, "--label", "v2", "--no-gate")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "RunAppDeployPreDeployHooks" in failed.stdout  # the failing step, in EB's events
        assert "rolled back to v1" in failed.stderr
        eb = boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server)
        state = eb.describe_environments(ApplicationName=APP, EnvironmentNames=[ENV])["Environments"][0]
        assert (state["VersionLabel"], state["Health"]) == ("v1", "Green")
        assert version(fleet.url) == "v1"


def test_eb_create_and_eb_deploy_really_serve_through_the_local_instance(docker_engine, server, tmp_path):
    tree = copy_tree(tmp_path / "board")
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=60) as fleet:
        eb_api.attach("board-eb", fleet)
        # eb init, eb create: the first version deploys on the instance, the fleet's PostgreSQL as its RDS database
        eb_ready_checkout(tree, server, "board-eb", *DATABASE)
        assert requests.get(fleet.url + "/healthz", timeout=5).ok
        (tree / "board" / "templates" / "about.html").write_text("{% extends 'base.html' %}"
                                                                  "{% block content %}deployed by eb{% endblock %}")
        git(tree, "commit", "-qam", "second")
        deployed = run_eb(tree, server, "deploy", "--timeout", "5")
        assert "Environment update completed successfully." in deployed
        assert "deployed by eb" in requests.get(fleet.url + "/about", timeout=5).text
        # `eb deploy` sets no APP_VERSION: /version still shows the label it made, from the instance's manifest.
        eb = boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server)
        label = eb.describe_environments(ApplicationName="board", EnvironmentNames=["board-eb"])[
            "Environments"][0]["VersionLabel"]
        assert label.startswith("app-") and "APP_VERSION" not in app_environment(fleet)
        assert version(fleet.url) == label


def broken_migration(tree) -> None:
    (tree / "migrations/versions/9999_broken.py").write_text(BROKEN_MIGRATION)


# (c) a predeploy hook fails (the migration); (d) the commands succeed but gunicorn exits at boot.
BAD_VERSIONS = {"broken-migration": (broken_migration, ["Command failed on instance", "RunAppDeployPreDeployHooks"]),
                "exits-at-boot": (exits_at_boot, ["did not pass health check after command execution. "
                                                  "Aborting the operation."])}


@pytest.mark.parametrize("bad", BAD_VERSIONS)
def test_eb_deploy_of_a_bad_version_fails_at_once_and_the_old_version_keeps_serving(docker_engine, server, tmp_path,
                                                                                     bad):
    edit, events = BAD_VERSIONS[bad]
    tree = copy_tree(tmp_path / "board")
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=30) as fleet:
        eb_api.attach(f"board-{bad}", fleet)
        eb_ready_checkout(tree, server, f"board-{bad}", *DATABASE)
        serving = version(fleet.url)
        edit(tree)
        git(tree, "add", "-A")
        git(tree, "commit", "-qm", bad)
        # The subprocess timeout is a guard only: the EB CLI must stop at EB's failure event, not at --timeout.
        failed = eb(tree, server, "deploy", "--timeout", "20", timeout=600)
        assert failed.returncode != 0, failed.stdout + failed.stderr
        assert all(event in failed.stdout for event in events), failed.stdout
        assert "ServiceError - Failed to deploy application." in failed.stdout + failed.stderr
        assert version(fleet.url) == serving
        assert requests.get(fleet.url + "/healthz", timeout=5).ok
