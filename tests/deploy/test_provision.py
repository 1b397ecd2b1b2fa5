"""provision on an empty account: everything a first release needs, through moto's own RDS, SSM, Secrets
Manager, EC2 and IAM, and the EB extension; it returns only once the environment is Ready."""

from __future__ import annotations

import json
import shutil

import pytest

from deploy import provision
from deploy.errors import USAGE, DeployError
from deploy.namespaces import (
    APPLICATION_ENVIRONMENT,
    AUTOSCALING_GROUP,
    ENVIRONMENT_SECRETS,
    ENVIRONMENT_SETTINGS,
    LAUNCH_CONFIGURATION,
)
from localeb import eb_api
from testkit.tree import ROOT
from tests.deploy.conftest import APP, ENV, POLL


def run(clients, choice=None, root=ROOT, lines=None):
    provision.provision(clients, APP, ENV, choice, timeout=5, poll=POLL, root=root, wait_ready=True,
                        out=(lines.append if lines is not None else lambda line: None))


def options(clients) -> dict:
    settings = clients.eb.describe_configuration_settings(ApplicationName=APP, EnvironmentName=ENV)
    return {(o["Namespace"], o["OptionName"]): o["Value"] for o in settings["ConfigurationSettings"][0][
        "OptionSettings"]}


def group_id(clients, name) -> str:
    return clients.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])[
        "SecurityGroups"][0]["GroupId"]


def test_provision_makes_an_alb_environment_with_secret_key_and_database_and_waits_until_ready(clients):
    lines = []
    run(clients, lines=lines)
    [env] = clients.eb.describe_environments(ApplicationName=APP, EnvironmentNames=[ENV])["Environments"]
    assert env["Status"] == "Ready"
    settings = options(clients)
    assert settings[(ENVIRONMENT_SETTINGS, "LoadBalancerType")] == "application"

    key = clients.ssm.get_parameter(Name=f"/{APP}/{ENV}/SECRET_KEY", WithDecryption=True)["Parameter"]
    assert key["Type"] == "SecureString" and len(key["Value"]) >= 64
    assert settings[(ENVIRONMENT_SECRETS, "SECRET_KEY")] == key["ARN"]
    assert not any(key["Value"] in line for line in lines)  # never printed

    [db] = clients.rds.describe_db_instances()["DBInstances"]
    assert db["Engine"] == "postgres" and db["PubliclyAccessible"] is False
    password = clients.secretsmanager.describe_secret(SecretId=f"{APP}/{ENV}/db-password")["ARN"]
    assert settings[(ENVIRONMENT_SECRETS, "RDS_PASSWORD")] == password
    assert settings[(APPLICATION_ENVIRONMENT, "RDS_HOSTNAME")] == db["Endpoint"]["Address"]
    assert settings[(APPLICATION_ENVIRONMENT, "RDS_USERNAME")] == "board"

    instances, database = group_id(clients, f"{ENV}-instances"), group_id(clients, f"{ENV}-db")
    assert settings[(LAUNCH_CONFIGURATION, "SecurityGroups")] == instances
    [rule] = clients.ec2.describe_security_groups(GroupIds=[database])["SecurityGroups"][0]["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"], rule["IpRanges"]) == (5432, 5432, [])
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [instances]

    policy = clients.iam.get_role_policy(RoleName=provision.INSTANCE_ROLE, PolicyName=f"board-{APP}-{ENV}-secrets")
    readable = {resource for statement in policy["PolicyDocument"]["Statement"]
                for resource in statement["Resource"]}
    assert readable == {key["ARN"], password}


def test_a_second_provision_keeps_the_secret_key_and_the_database(clients):
    run(clients)
    first = clients.ssm.get_parameter(Name=f"/{APP}/{ENV}/SECRET_KEY", WithDecryption=True)["Parameter"]["Value"]
    run(clients)
    assert clients.ssm.get_parameter(Name=f"/{APP}/{ENV}/SECRET_KEY", WithDecryption=True)["Parameter"][
        "Value"] == first
    assert len(clients.rds.describe_db_instances()["DBInstances"]) == 1


def test_a_database_url_is_kept_in_secrets_manager_and_no_rds_is_made(clients):
    run(clients, provision.DatabaseChoice(url="postgresql://u:p@db.example.com/board"))
    arn = clients.secretsmanager.describe_secret(SecretId=f"{APP}/{ENV}/database-url")["ARN"]
    assert options(clients)[(ENVIRONMENT_SECRETS, "DATABASE_URL")] == arn
    assert clients.rds.describe_db_instances()["DBInstances"] == []


def test_adopting_an_rds_instance_needs_its_password_in_secrets_manager(clients):
    clients.rds.create_db_instance(DBInstanceIdentifier="shared-db", Engine="postgres",
                                   DBInstanceClass="db.t4g.small", AllocatedStorage=20, MasterUsername="admin",
                                   MasterUserPassword="x" * 16, DBName="board")
    with pytest.raises(DeployError, match=f"as a plain string named {APP}/{ENV}/db-password"):
        run(clients, provision.DatabaseChoice(rds_instance="shared-db"))
    clients.secretsmanager.create_secret(Name=f"{APP}/{ENV}/db-password", SecretString="x" * 16)
    run(clients, provision.DatabaseChoice(rds_instance="shared-db"))
    assert options(clients)[(APPLICATION_ENVIRONMENT, "RDS_USERNAME")] == "admin"
    groups = clients.rds.describe_db_instances(DBInstanceIdentifier="shared-db")["DBInstances"][0][
        "VpcSecurityGroups"]
    assert group_id(clients, f"{ENV}-db") in [g["VpcSecurityGroupId"] for g in groups]


def test_a_connection_budget_over_max_connections_is_warned_about(clients, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / ".ebextensions", tree / ".ebextensions")
    shutil.copytree(ROOT / "board", tree / "board", ignore=shutil.ignore_patterns("__pycache__"))
    (tree / ".ebextensions" / "09-scale.config").write_text(json.dumps(
        {"option_settings": {AUTOSCALING_GROUP: {"MaxSize": "10"}}}))
    lines = []
    run(clients, root=tree, lines=lines)
    [warning] = [line for line in lines if line.startswith("warning: ")]
    assert "160 connections (10 instances × 2 workers × 8 threads)" in warning and "db.t4g.micro" in warning


def test_roles_not_yet_usable_are_waited_for(clients, monkeypatch):
    slept = []
    monkeypatch.setattr(provision.time, "sleep", slept.append)
    eb_api.refuse("CreateEnvironment", 2, "InvalidParameterValue",
                        "The instance profile aws-elasticbeanstalk-ec2-role associated with the environment does "
                        "not exist.")
    lines = []
    run(clients, lines=lines)
    assert slept[:2] == [2, 4]
    assert sum("IAM has not caught up yet" in line for line in lines) == 2


def test_another_platform_for_an_existing_environment_is_refused_and_changes_nothing(clients):
    run(clients)
    with pytest.raises(DeployError) as refused:
        provision.provision(clients, APP, ENV, timeout=5, poll=POLL, platform="python", out=lambda line: None)
    assert refused.value.exit_code == USAGE and "cannot move an environment to another platform" in str(
        refused.value)
    [env] = clients.eb.describe_environments(ApplicationName=APP, EnvironmentNames=[ENV])["Environments"]
    assert env["SolutionStackName"].endswith("running Docker")


def test_a_new_database_url_for_an_existing_environment_is_applied(clients):
    run(clients, provision.DatabaseChoice(url="postgresql://u:p@old.example.com/board"))
    lines = []
    run(clients, provision.DatabaseChoice(url="postgresql://u:p@new.example.com/board"), lines=lines)
    arn = clients.secretsmanager.describe_secret(SecretId=f"{APP}/{ENV}/database-url")["ARN"]
    assert clients.secretsmanager.get_secret_value(SecretId=arn)["SecretString"].endswith("@new.example.com/board")
    assert options(clients)[(ENVIRONMENT_SECRETS, "DATABASE_URL")] == arn
    assert any("Environment update is starting" in line for line in lines)  # EB reads secrets when it deploys
    assert not any("createEnvironment is starting" in line for line in lines)  # the first run's events, not replayed


def test_switching_an_existing_environment_to_another_rds_instance_is_refused(clients):
    run(clients)
    with pytest.raises(DeployError, match="provision chooses its database only when it creates it"):
        run(clients, provision.DatabaseChoice(rds_instance="other-db"))


def test_an_unknown_rds_instance_is_refused_before_anything_is_made(clients):
    with pytest.raises(DeployError) as refused:
        run(clients, provision.DatabaseChoice(rds_instance="nosuch"))
    assert refused.value.exit_code == USAGE and "no RDS instance 'nosuch'" in str(refused.value)
    groups = clients.ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{ENV}-*"]}])
    assert groups["SecurityGroups"] == []
    assert clients.ssm.describe_parameters()["Parameters"] == []
    assert clients.eb.describe_applications(ApplicationNames=[APP])["Applications"] == []


def test_the_database_wait_says_each_status_and_keeps_to_the_timeout(clients):
    from moto.rds.models import rds_backends

    from deploy import database

    lines = []
    run(clients, lines=lines)
    assert f"RDS {ENV}-db: available" in lines
    rds_backends["123456789012"]["us-east-1"].databases[f"{ENV}-db"].status = "creating"
    with pytest.raises(DeployError, match=f"RDS {ENV}-db still creating after 0 s"):
        database.wait_available(clients.rds, f"{ENV}-db", 0.2, POLL, lines.append)
    assert lines.count(f"RDS {ENV}-db: creating") == 1


def test_provision_makes_the_image_repository_scanned_on_push_that_the_instances_can_pull_from(clients):
    run(clients)
    run(clients)  # a second run changes nothing and does not fail
    [repository] = clients.ecr.describe_repositories(repositoryNames=[APP])["repositories"]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    # Only untagged images expire: every image a release pushes is tagged with its version's label.
    rules = json.loads(clients.ecr.get_lifecycle_policy(repositoryName=APP)["lifecyclePolicyText"])["rules"]
    assert [rule["selection"]["tagStatus"] for rule in rules] == ["untagged"]
    policy = clients.iam.get_role_policy(RoleName=provision.INSTANCE_ROLE, PolicyName=f"board-ecr-{APP}")[
        "PolicyDocument"]  # boto3 gives the document decoded
    pull = next(statement for statement in policy["Statement"] if statement["Sid"] == "EcrPull")
    assert pull["Resource"] == repository["repositoryArn"]
    assert {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= set(pull["Action"])
