"""docs/eb-laptop.md's EB CLI path, run as a reader pastes it, against local AWS.

The shell blocks of that section, then those of docs/eb-laptop.md (which it links for a database apart),
run in bash (`set -euo pipefail`) in a git checkout of this repo, with the real EB CLI and AWS CLI from the
venv, against moto over HTTP with the EB extension. The one change the test makes: a `<placeholder>` the
text tells the reader to replace becomes `test-<placeholder>-value`. Local AWS is reached through
AWS_ENDPOINT_URL; `aws` is a shim that also passes it as --endpoint-url, because AWS CLI v1 sends RDS calls
in us-east-1 to rds.amazonaws.com whatever AWS_ENDPOINT_URL says (its overridesslcommonname customization).
With Docker, the EB CLI section's blocks run once more with a local EB instance (localeb) behind the environment,
which then really serves what `eb deploy` released.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import boto3
import pytest
import requests

from deploy.namespaces import APPLICATION_ENVIRONMENT, DEPLOYMENT_POLICY, ENVIRONMENT_SETTINGS, RDS_DATABASE
from localeb import Fleet, eb_api, eb_options
from localeb.docker import docker
from localeb.fleet import LABEL
from testkit.ports import free_port
from testkit.readme import cloned, run_blocks, section, shell_blocks
from testkit.tree import ROOT

pytestmark = pytest.mark.slow

LAPTOP = ROOT / "docs" / "eb-laptop.md"
SECTION = "Deploy with the EB CLI"
APART = "A database apart from the environment"
EXPLAINED = "docs/elastic-beanstalk.md"  # where the page sends readers for why the overrides are removed
ENV = "board-prod"
DOCKER_AL2023 = "arn:aws:elasticbeanstalk:us-east-1::platform/Docker running on 64bit Amazon Linux 2023/4.10.0"


def laptop_blocks() -> list[str]:
    text = LAPTOP.read_text()
    return shell_blocks(section(text, SECTION)) + shell_blocks(section(text, APART))


def commands(block: str) -> list[list[str]]:
    """The block's commands as words (continuations joined, comments dropped), without running them."""
    joined = re.sub(r"\\\n", " ", block)
    return [shlex.split(line, comments=True) for line in joined.splitlines() if shlex.split(line, comments=True)]


def laptop_commands() -> list[list[str]]:
    return [words for block in laptop_blocks() for words in commands(block)]


def in_force(eb, app: str, env: str) -> dict[tuple[str, str], str]:
    [config] = eb.describe_configuration_settings(ApplicationName=app, EnvironmentName=env)["ConfigurationSettings"]
    return {(o["Namespace"], o["OptionName"]): o["Value"] for o in config["OptionSettings"]}


def ebextensions_options() -> dict[tuple[str, str], str]:
    found = {}
    for path in sorted((ROOT / ".ebextensions").glob("*.config")):
        found.update({eb_options.key(o): o["Value"] for o in eb_options.config_file_settings(path.read_text())})
    return found


def installed_ebcli(expression: str):
    """A value computed with the installed EB CLI, in a process of its own: importing ebcli patches botocore's
    response parser (ebcli.lib.botopatch), which would break the in-process moto tests that run after."""
    script = ("import json\nfrom ebcli.controllers import create\nfrom ebcli.objects.platform import PlatformVersion\n"
              "from ebcli.objects.requests import CreateEnvironmentRequest\n"
              f"print(json.dumps({expression}))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(result.stdout)


def client_defaults(elb_type: str = "application") -> list[dict]:
    """What the installed EB CLI's `eb create` sends besides the user's flags (add_client_defaults)."""
    return installed_ebcli(
        f"(lambda r: (r.add_client_defaults(), r.option_settings)[1])(CreateEnvironmentRequest("
        f"app_name='board', env_name={ENV!r}, platform=PlatformVersion({DOCKER_AL2023!r}), elb_type={elb_type!r}))")


def ready_environment(server: str):
    """board-prod after the commands: Ready and Green; with the EB client that looked."""
    eb = boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server)
    [env] = eb.describe_environments(ApplicationName="board", EnvironmentNames=[ENV],
                                     IncludeDeleted=False)["Environments"]
    assert (env["Status"], env["Health"]) == ("Ready", "Green")
    return env, eb


def test_every_laptop_command_runs_against_local_aws_and_leaves_our_settings_in_force(server, tmp_path):
    run_blocks(cloned(tmp_path), server, laptop_blocks())
    _env, eb = ready_environment(server)
    settings = in_force(eb, "board", ENV)
    wanted = ebextensions_options()
    assert {k: settings.get(k) for k in wanted} == wanted  # eb create's client defaults no longer win
    assert settings[(ENVIRONMENT_SETTINGS, "LoadBalancerType")] == "application"
    assert settings[(APPLICATION_ENVIRONMENT, "RDS_HOSTNAME")]

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=server)
    [instances_group] = ec2.describe_security_groups(Filters=[
        {"Name": "tag:elasticbeanstalk:environment-name", "Values": [ENV]},
        {"Name": "tag:aws:cloudformation:logical-id", "Values": ["AWSEBSecurityGroup"]}])["SecurityGroups"]
    rds = boto3.client("rds", region_name="us-east-1", endpoint_url=server)
    [database] = rds.describe_db_instances()["DBInstances"]
    [database_group] = ec2.describe_security_groups(
        GroupIds=[g["VpcSecurityGroupId"] for g in database["VpcSecurityGroups"]])["SecurityGroups"]
    assert [(p["FromPort"], [pair["GroupId"] for pair in p["UserIdGroupPairs"]])
            for p in database_group["IpPermissions"]] == [(5432, [instances_group["GroupId"]])]
    assert eb_options.database_refusal({(RDS_DATABASE, "DBEngine"): database["Engine"],
                                        (RDS_DATABASE, "DBEngineVersion"): database["EngineVersion"],
                                        (RDS_DATABASE, "DBInstanceClass"): database["DBInstanceClass"]}) is None


@pytest.mark.docker
def test_the_readme_commands_deploy_an_app_the_local_instance_serves(docker_engine, server, tmp_path):
    """The EB CLI section's blocks (not the database apart) with a local EB instance behind board-prod:
    eb create's database is the fleet's PostgreSQL, whose RDS_* the instances get as EB sets them."""
    tree = cloned(tmp_path)
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=60) as fleet:
        eb_api.attach(ENV, fleet)  # before eb create: the environment does not exist yet
        stand_in = eb_api.stand_in_rds(fleet)
        run_blocks(tree, server, shell_blocks(section(LAPTOP.read_text(), SECTION)))
        env, eb = ready_environment(server)
        labels = [v["VersionLabel"] for v in eb.describe_application_versions(
            ApplicationName="board")["ApplicationVersions"]]
        assert len(labels) == 2  # eb create's and eb deploy's, which the environment now runs
        assert requests.get(fleet.url + "/version", timeout=10).json()["version"] == env["VersionLabel"]
        assert requests.get(fleet.url + "/", timeout=10).status_code == 200
        assert {name: serving_environment(fleet).get(name) for name in stand_in} == stand_in


def serving_environment(fleet) -> dict[str, str]:
    """The environment of the app container now serving on the fleet's instance."""
    [name] = docker("ps", "--quiet", "--filter", f"label={LABEL}.app={fleet.name}").stdout.split()
    listed = docker("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", name).stdout
    return dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)


def test_readme_removes_every_override_eb_create_sends_for_an_ebextensions_option():
    ours = ebextensions_options()
    overridden = {eb_options.key(o) for o in client_defaults() if eb_options.key(o) in ours}
    assert (DEPLOYMENT_POLICY, "BatchSize") in overridden  # the installed CLI still sends 30 %
    removed = set()
    for words in laptop_commands():
        if words[:3] == ["aws", "elasticbeanstalk", "update-environment"] and "--options-to-remove" in words:
            for word in words[words.index("--options-to-remove") + 1:]:
                fields = dict(part.split("=", 1) for part in word.split(",") if "=" in part)
                if {"Namespace", "OptionName"} <= fields.keys():
                    removed.add((fields["Namespace"], fields["OptionName"]))
    assert overridden <= removed, f"eb create overrides {sorted(overridden - removed)} and docs/eb-laptop.md keeps them"
    why = section((ROOT / EXPLAINED).read_text(), "Keeping these settings in force")
    assert all(f"`{option}`" in why for _, option in overridden), f"{EXPLAINED} names what eb create overrides"


def eb_create_flags() -> dict[str, str]:
    [create] = [words for words in laptop_commands() if words[:2] == ["eb", "create"]]
    return dict(zip(create, create[1:] + [""], strict=True))


def test_readme_eb_create_chooses_the_application_load_balancer():
    # The installed CLI picks application only when it cannot ask (an environment name given); asked, a
    # reader may pick classic, where the health check's MatcherHTTPCode does not apply.
    assert installed_ebcli("create.get_elb_type_from_customer(interactive=False, single=False, tier=None)") == \
        "application"
    assert eb_create_flags().get("--elb-type") == "application"


def test_readme_eb_create_names_a_database_class_and_version_rds_accepts():
    flags = eb_create_flags()
    assert "--database.instance" in flags and "--database.version" in flags, "EB's defaults: db.t2.micro"
    assert eb_options.database_refusal({(RDS_DATABASE, "DBEngine"): flags["--database.engine"],
                                        (RDS_DATABASE, "DBInstanceClass"): flags["--database.instance"],
                                        (RDS_DATABASE, "DBEngineVersion"): flags["--database.version"]}) is None
