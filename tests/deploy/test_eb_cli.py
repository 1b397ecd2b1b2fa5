"""The EB CLI itself (init, create, deploy, status) on a copy of this repo, against the local AWS."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from deploy.bundle import bundle_files
from tests.tree import copy_tree

pytestmark = pytest.mark.slow
EB = Path(sys.executable).parent / "eb"


def run_eb(tree: Path, endpoint: str, *args: str) -> str:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tree.parent)})
    result = subprocess.run([str(EB), *args], cwd=tree, env=environ, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"eb {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def git(tree: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=test@example.com", "-c", "user.name=test", *args], cwd=tree,
                   check=True, capture_output=True)


def test_eb_init_create_deploy_status_on_this_repo(server, tmp_path):
    if not EB.exists():
        pytest.fail("the EB CLI is missing: it is in requirements-dev.txt (awsebcli)")
    tree = copy_tree(tmp_path / "board")
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "first")
    run_eb(tree, server, "init", "board", "--platform", "Docker running on 64bit Amazon Linux 2023",
           "--region", "us-east-1")
    run_eb(tree, server, "create", "board-eb", "--timeout", "2")

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
    assert archive.getinfo(".platform/hooks/predeploy/01_migrate.sh").external_attr >> 16 & 0o100
