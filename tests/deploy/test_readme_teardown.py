"""The README's teardown, pasted after `python -m deploy provision`, leaves nothing that provision made."""

from __future__ import annotations

import re

import boto3
import pytest

from testkit.readme import cloned, run_block, shell_blocks
from testkit.tree import ROOT

from .test_cli_over_http import cli

pytestmark = pytest.mark.slow
APP, ENV = "board", "board-prod"


def teardown_block() -> str:
    text = (ROOT / "README.md").read_text()
    part = re.search(r"^### What it costs, and tearing it down\n(.*?)(?=^## )", text,
                     flags=re.MULTILINE | re.DOTALL).group(1)
    [block] = shell_blocks(part)
    return block


def test_the_readme_teardown_removes_everything_provision_made(server, tmp_path):
    provisioned = cli(server, "provision", "--app", APP, "--env", ENV)
    assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr

    result = run_block(cloned(tmp_path), server, teardown_block())
    assert result.returncode == 0, result.stdout + result.stderr

    def client(service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=server)

    eb = client("elasticbeanstalk")
    assert not eb.describe_applications(ApplicationNames=[APP])["Applications"]
    assert [e["Status"] for e in eb.describe_environments(EnvironmentNames=[ENV])["Environments"]] in ([], [
        "Terminated"])
    assert not client("rds").describe_db_instances()["DBInstances"]
    assert client("rds").describe_db_snapshots()["DBSnapshots"]  # the final snapshot is kept
    groups = {g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]}
    assert not groups & {f"{ENV}-db", f"{ENV}-instances"}
    assert not [s for s in client("secretsmanager").list_secrets()["SecretList"] if "DeletedDate" not in s]
    assert not client("ssm").describe_parameters()["Parameters"]
    assert not client("iam").list_role_policies(RoleName="aws-elasticbeanstalk-ec2-role")["PolicyNames"]
    assert not client("ecr").describe_repositories()["repositories"]
