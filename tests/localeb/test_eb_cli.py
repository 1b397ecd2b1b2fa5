"""The EB CLI itself (init, create, deploy, status) on a copy of this repo, against the local AWS."""

from __future__ import annotations

import io
import zipfile

import boto3
import pytest

from deploy.bundle import bundle_files
from localeb import eb_api
from testkit.ebcli import EB, eb, eb_ready_checkout, git, run_eb
from testkit.tree import copy_tree

pytestmark = pytest.mark.slow


def test_eb_init_create_deploy_status_on_this_repo(server, tmp_path):
    if not EB.exists():
        pytest.fail("the EB CLI is missing: it is in requirements-dev.txt (awsebcli)")
    tree = copy_tree(tmp_path / "board")
    eb_ready_checkout(tree, server)

    (tree / "board" / "templates" / "about.html").write_text("changed")
    git(tree, "commit", "-qam", "second")
    deployed = run_eb(tree, server, "deploy", "--timeout", "2")
    assert "Environment update completed successfully." in deployed
    status = run_eb(tree, server, "status")
    assert "Status: Ready" in status and "Health: Green" in status

    eb = boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server)
    [env] = eb.describe_environments(ApplicationName="board", EnvironmentNames=["board-eb"])["Environments"]
    version = eb.describe_application_versions(ApplicationName="board",
                                               VersionLabels=[env["VersionLabel"]])["ApplicationVersions"][0]
    assert env["VersionLabel"] in status and env["SolutionStackName"].endswith("running Docker")
    source = version["SourceBundle"]
    body = boto3.client("s3", region_name="us-east-1", endpoint_url=server).get_object(
        Bucket=source["S3Bucket"], Key=source["S3Key"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        uploaded = sorted(name for name in archive.namelist() if not name.endswith("/"))
    assert uploaded == bundle_files(tree)  # what `eb deploy` shipped is what python -m deploy ships
    assert archive.getinfo(".platform/hooks/predeploy/01_migrate.py").external_attr >> 16 & 0o100


def test_eb_deploy_of_a_version_that_fails_on_the_instances_exits_non_zero(server, tmp_path):
    tree = copy_tree(tmp_path / "board")
    eb_ready_checkout(tree, server)
    eb_api.mark_bad("broken")
    # A guard only: without EB's closing event the EB CLI would wait out its --timeout (10 minutes).
    failed = eb(tree, server, "deploy", "--label", "broken", "--timeout", "10", timeout=300)
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "Unsuccessful command execution on instance id(s)" in failed.stdout
    assert "ServiceError - Failed to deploy application." in failed.stdout + failed.stderr
