"""Create what a first release needs, idempotently: application, lifecycle policy, roles, environment.

Option settings stay in .ebextensions (settings made through the API would
override them); only what EB needs at creation and cannot read from the
bundle is set here: the instance profile and the service role.
"""

from __future__ import annotations

import json
import re

from botocore.exceptions import ClientError

from .errors import DeployError

INSTANCE_ROLE = "aws-elasticbeanstalk-ec2-role"
SERVICE_ROLE = "aws-elasticbeanstalk-service-role"
INSTANCE_POLICIES = ["AWSElasticBeanstalkWebTier", "AWSElasticBeanstalkMulticontainerDocker"]
SERVICE_POLICIES = ["service-role/AWSElasticBeanstalkEnhancedHealth",
                    "AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy"]
DOCKER_AL2023 = re.compile(r"64bit Amazon Linux 2023 v(\d+)\.(\d+)\.(\d+) running Docker")
KEEP_VERSIONS = 200  # well under the account's 1,000-version quota


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def ensure_role(iam, name: str, service: str, policies: list[str], out) -> str:
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
        for policy in policies:
            iam.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
        out(f"created role {name}")
    return arn


def ensure_instance_profile(iam, out) -> str:
    ensure_role(iam, INSTANCE_ROLE, "ec2.amazonaws.com", INSTANCE_POLICIES, out)
    try:
        profile = iam.get_instance_profile(InstanceProfileName=INSTANCE_ROLE)["InstanceProfile"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        profile = iam.create_instance_profile(InstanceProfileName=INSTANCE_ROLE)["InstanceProfile"]
        out(f"created instance profile {INSTANCE_ROLE}")
    if not any(role["RoleName"] == INSTANCE_ROLE for role in profile.get("Roles", [])):
        iam.add_role_to_instance_profile(InstanceProfileName=INSTANCE_ROLE, RoleName=INSTANCE_ROLE)
    return INSTANCE_ROLE


def latest_docker_stack(eb) -> str:
    return latest_stack(eb, "docker")


# The platforms the same bundle deploys on (docs/eb-platform.md): solution stack names, newest version wins.
PLATFORMS = {
    "docker": (DOCKER_AL2023, "Docker running on 64bit Amazon Linux 2023"),
    "python": (re.compile(r"64bit Amazon Linux 2023 v(\d+)\.(\d+)\.(\d+) running Python 3\.12"),
               "Python 3.12 running on 64bit Amazon Linux 2023"),
}
# The one option setting that is valid on one platform only, so it cannot live in .ebextensions: the Docker
# platform does not support static files mappings ("Serving static files", environment-cfg-staticfiles).
# On Python, nginx serves board/static itself; without the mapping the app still serves /static.
STATIC_FILES = {"/static": "board/static"}
PLATFORM_OPTIONS = {
    "docker": [],
    "python": [{"Namespace": "aws:elasticbeanstalk:environment:proxy:staticfiles", "OptionName": path,
                "Value": folder} for path, folder in STATIC_FILES.items()],
}


def latest_stack(eb, platform: str) -> str:
    """The newest solution stack of `platform` ("docker" or "python") offered in this region."""
    pattern, branch = PLATFORMS[platform]
    stacks = [(tuple(map(int, m.groups())), name) for name in eb.list_available_solution_stacks()["SolutionStacks"]
              if (m := pattern.fullmatch(name))]
    if not stacks:
        raise DeployError(f"no '{branch}' platform offered in this region")
    return max(stacks)[1]


def provision(clients, app: str, env: str, out=print, platform: str = "docker") -> None:
    eb, iam = clients.eb, clients.iam
    service_role = ensure_role(iam, SERVICE_ROLE, "elasticbeanstalk.amazonaws.com", SERVICE_POLICIES, out)
    profile = ensure_instance_profile(iam, out)
    if not eb.describe_applications(ApplicationNames=[app])["Applications"]:
        eb.create_application(ApplicationName=app, Description="board, a Flask message board")
        out(f"created application {app}")
    eb.update_application_resource_lifecycle(ApplicationName=app, ResourceLifecycleConfig={
        "ServiceRole": service_role,
        "VersionLifecycleConfig": {
            "MaxCountRule": {"Enabled": True, "MaxCount": KEEP_VERSIONS, "DeleteSourceFromS3": True},
            "MaxAgeRule": {"Enabled": False, "MaxAgeInDays": 180, "DeleteSourceFromS3": True}}})
    out(f"version lifecycle: keep the newest {KEEP_VERSIONS}")
    existing = [e for e in eb.describe_environments(ApplicationName=app, EnvironmentNames=[env])["Environments"]
                if e["Status"] != "Terminated"]
    if existing:
        out(f"environment {env} exists ({existing[0]['Status']}, {existing[0].get('SolutionStackName')})")
        return
    stack = latest_stack(eb, platform)
    eb.create_environment(ApplicationName=app, EnvironmentName=env, SolutionStackName=stack, OptionSettings=[
        {"Namespace": "aws:autoscaling:launchconfiguration", "OptionName": "IamInstanceProfile", "Value": profile},
        {"Namespace": "aws:elasticbeanstalk:environment", "OptionName": "ServiceRole", "Value": service_role},
        *PLATFORM_OPTIONS[platform]])
    out(f"creating environment {env} on {stack}; the first release deploys the app")
