"""Create what a first release needs, idempotently, and wait until it is Ready: application, lifecycle
policy, roles, SECRET_KEY (SSM SecureString), a PostgreSQL database decoupled from the environment
(created, adopted, or a URL) with its password in Secrets Manager, and the environment.

Option settings stay in .ebextensions (settings made through the API would
override them); only what EB needs at creation and cannot read from the
bundle is set here: the instance profile, service role, load balancer type
(read from .ebextensions), security group, and the secrets and database
address, which differ per environment.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from . import database, environment, secretstore
from .ebextensions import read_extensions
from .errors import DEPLOY_FAILED, DeployError
from .namespaces import APPLICATION_ENVIRONMENT, ENVIRONMENT_SECRETS, ENVIRONMENT_SETTINGS, LAUNCH_CONFIGURATION

ROOT = Path(__file__).resolve().parents[1]
IAM_RETRIES = 5  # new roles take seconds to be usable by other services

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


# The platforms the same bundle deploys on (docs/eb-platform.md): solution stack names, newest version wins.
PLATFORMS = {
    "docker": (DOCKER_AL2023, "Docker running on 64bit Amazon Linux 2023"),
    "python": (re.compile(r"64bit Amazon Linux 2023 v(\d+)\.(\d+)\.(\d+) running Python 3\.12"),
               "Python 3.12 running on 64bit Amazon Linux 2023"),
}


# Untagged images only: every image `release --image` pushes carries its version label as a tag, so an image a
# version names is never selected; images left untagged (a tag re-pushed elsewhere, a failed push) go.
ECR_LIFECYCLE = {"rules": [{
    "rulePriority": 1, "description": "untagged images; a version's image keeps its label as a tag",
    "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
    "action": {"type": "expire"}}]}


def ecr_reader_policy(repository_arn: str) -> str:
    """What EB's instances need to pull from one repository with their instance profile (docs/eb-platform.md)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "EcrPull", "Effect": "Allow", "Resource": repository_arn,
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
                    "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:ListImages"]}]})


def ensure_repository(clients, name: str, out) -> str:
    """The ECR repository `release --image` pushes to (scan on push, the lifecycle rule), readable by the instances;
    its URI."""
    ecr = clients.ecr
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as error:
        if error.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        repository = ecr.create_repository(repositoryName=name,
                                           imageScanningConfiguration={"scanOnPush": True})["repository"]
        out(f"created ECR repository {repository['repositoryUri']} (scan on push)")
    ecr.put_image_scanning_configuration(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(ECR_LIFECYCLE))
    clients.iam.put_role_policy(RoleName=INSTANCE_ROLE, PolicyName=f"board-ecr-{name}",
                                PolicyDocument=ecr_reader_policy(repository["repositoryArn"]))
    return repository["repositoryUri"]


def latest_stack(eb, platform: str) -> str:
    """The newest solution stack of `platform` ("docker" or "python") offered in this region."""
    pattern, branch = PLATFORMS[platform]
    stacks = [(tuple(map(int, m.groups())), name) for name in eb.list_available_solution_stacks()["SolutionStacks"]
              if (m := pattern.fullmatch(name))]
    if not stacks:
        raise DeployError(f"no '{branch}' platform offered in this region")
    return max(stacks)[1]


@dataclass(frozen=True)
class DatabaseChoice:
    url: str | None = None  # `--database-url`
    rds_instance: str | None = None  # `--rds-instance`


def setting(namespace: str, name: str, value) -> dict:
    return {"Namespace": namespace, "OptionName": name, "Value": str(value)}


def database_settings(clients, app: str, env: str, choice: DatabaseChoice, instances_group: str, checked,
                      out, timeout: float, poll: float) -> tuple[list[dict], list[str], database.Database | None]:
    """Option settings that point the app at its database, the secret ARNs they reference, the database."""
    sm = clients.secretsmanager
    if choice.url:
        arn = secretstore.ensure_secret(sm, f"{app}/{env}/database-url", choice.url, out)
        return [setting(ENVIRONMENT_SECRETS, "DATABASE_URL", arn)], [arn], None
    group = database.ensure_group(clients.ec2, checked.vpc, f"{env}-db", f"board {env}: PostgreSQL", out)
    password_name = f"{app}/{env}/db-password"
    if choice.rds_instance:
        instance = checked.instance
        arn = sm.describe_secret(SecretId=password_name)["ARN"]
        database.attach_group(clients.rds, instance, group)
    else:
        arn = secretstore.ensure_secret(sm, password_name, None, out, make=secretstore.new_password)
        instance = database.create(clients.rds, f"{env}-db", secretstore.read_secret(sm, password_name), group, out,
                                   timeout, poll)
    found = database.found(instance)
    database.allow_from(clients.ec2, group, instances_group, found.port)
    address = {"RDS_HOSTNAME": found.host, "RDS_PORT": found.port, "RDS_DB_NAME": found.name,
               "RDS_USERNAME": found.user}
    return ([setting(ENVIRONMENT_SECRETS, "RDS_PASSWORD", arn),
             *(setting(APPLICATION_ENVIRONMENT, name, value) for name, value in address.items())], [arn], found)


def create_environment(eb, request: dict, out) -> None:
    """CreateEnvironment, retried while IAM has not yet propagated roles made moments ago."""
    for attempt in range(IAM_RETRIES + 1):
        try:
            eb.create_environment(**request)
            return
        except ClientError as error:
            message = error.response["Error"].get("Message", "")
            if attempt == IAM_RETRIES or not any(word in message for word in ("instance profile", "role", "Role")):
                raise
            delay = 2 ** (attempt + 1)
            out(f"IAM has not caught up yet ({message}); retrying in {delay} s")
            time.sleep(delay)


@dataclass(frozen=True)
class Checked:
    """What a new environment needs that can be refused, found before anything is created."""
    stack: str
    vpc: str
    instance: dict | None  # the RDS instance to adopt


def check_new(clients, app: str, env: str, choice: DatabaseChoice, platform: str) -> Checked:
    """Everything that could refuse a new environment, asked before anything is made (exit 2: nothing
    changed)."""
    stack = latest_stack(clients.eb, platform)
    vpc = database.default_vpc(clients.ec2)
    instance = None
    if choice.rds_instance:
        instance = database.describe(clients.rds, choice.rds_instance)
        password_name = f"{app}/{env}/db-password"
        if not secretstore.exists(clients.secretsmanager, password_name):
            raise DeployError(f"store {choice.rds_instance}'s master password in Secrets Manager first, as a plain "
                              f"string named {password_name}")
    return Checked(stack, vpc, instance)


def provision(clients, app: str, env: str, choice: DatabaseChoice | None = None, timeout: float = 1800,
              poll: float = 5, root: Path = ROOT, out=print, wait_ready: bool = False,
              platform: str | None = None) -> None:
    """`platform` and `choice` None: the defaults for a new environment, whatever it has for an existing one."""
    eb = clients.eb
    since = datetime.now(UTC)
    existing = live_environment(eb, app, env)
    if existing:
        change = existing_change(clients, app, env, existing, choice, platform)
    else:
        checked = check_new(clients, app, env, choice or DatabaseChoice(), platform or "docker")
    service_role, profile = ensure_application(clients, app, out)
    if (platform or (platform_of(existing.get("SolutionStackName")) if existing else "docker")) == "docker":
        ensure_repository(clients, app, out)  # for `release --image`
    if existing:
        out(f"environment {env} exists ({existing['Status']}, {existing.get('SolutionStackName')})"
            + ("" if change else "; nothing to change"))
        if change:
            apply_change(clients, app, env, change, out)
    else:
        create_everything(clients, app, env, choice or DatabaseChoice(), root, service_role, profile, out,
                          platform or "docker", checked, timeout, poll)
    if wait_ready:
        wait_until_ready(eb, app, env, timeout, poll, out, since)


def live_environment(eb, app: str, env: str) -> dict | None:
    found = [e for e in eb.describe_environments(ApplicationName=app, EnvironmentNames=[env])["Environments"]
             if e["Status"] not in ("Terminated", "Terminating")]
    return found[0] if found else None


def ensure_application(clients, app: str, out) -> tuple[str, str]:
    """Roles, the application and its version lifecycle; (service role ARN, instance profile name)."""
    eb, iam = clients.eb, clients.iam
    service_role = ensure_role(iam, SERVICE_ROLE, "elasticbeanstalk.amazonaws.com", SERVICE_POLICIES, out)
    profile = ensure_instance_profile(iam, out)
    if not eb.describe_applications(ApplicationNames=[app])["Applications"]:
        eb.create_application(ApplicationName=app, Description="board, a Flask message board")
        out(f"created application {app}")
    # DeleteSourceFromS3 stays off: bundles are content-addressed, so one object serves many labels and EB
    # would delete it with the first of them; `prune` removes bundles no version uses.
    eb.update_application_resource_lifecycle(ApplicationName=app, ResourceLifecycleConfig={
        "ServiceRole": service_role,
        "VersionLifecycleConfig": {
            "MaxCountRule": {"Enabled": True, "MaxCount": KEEP_VERSIONS, "DeleteSourceFromS3": False},
            "MaxAgeRule": {"Enabled": False, "MaxAgeInDays": 180, "DeleteSourceFromS3": False}}})
    out(f"version lifecycle: keep the newest {KEEP_VERSIONS}")
    return service_role, profile


def platform_of(stack: str | None) -> str | None:
    return next((name for name, (pattern, _) in PLATFORMS.items() if stack and pattern.fullmatch(stack)), None)


def existing_change(clients, app: str, env: str, existing: dict, choice: DatabaseChoice | None,
                    platform: str | None) -> str | None:
    """What provision can change on an existing environment: a new --database-url (returned, applied later);
    anything else it was asked for is refused here, before anything changes."""
    stack = existing.get("SolutionStackName")
    if platform and platform_of(stack) != platform:
        raise DeployError(f"{env} runs {stack}: Elastic Beanstalk cannot move an environment to another platform "
                          f"({platform}); provision a new environment and swap CNAMEs (or terminate {env} first)")
    if choice and choice.rds_instance:
        raise DeployError(f"{env} exists: provision chooses its database only when it creates it; to move it to "
                          f"{choice.rds_instance}, set RDS_HOSTNAME and the other RDS_* properties yourself, or "
                          "pass --database-url")
    return choice.url if choice and choice.url else None


def apply_change(clients, app: str, env: str, url: str, out) -> None:
    """A new database URL: stored, the environment pointed at it (leaving any RDS_* it had), and the instance
    role allowed to read it. EB reads secrets when it deploys, so this runs a configuration update."""
    arn = secretstore.ensure_secret(clients.secretsmanager, f"{app}/{env}/database-url", url, out)
    allow_secret(clients.iam, app, env, arn)
    clients.eb.update_environment(
        ApplicationName=app, EnvironmentName=env,
        OptionSettings=[setting(ENVIRONMENT_SECRETS, "DATABASE_URL", arn)],
        OptionsToRemove=[{"Namespace": ns, "OptionName": name} for ns, name in (
            (APPLICATION_ENVIRONMENT, "RDS_HOSTNAME"), (APPLICATION_ENVIRONMENT, "RDS_PORT"),
            (APPLICATION_ENVIRONMENT, "RDS_DB_NAME"), (APPLICATION_ENVIRONMENT, "RDS_USERNAME"),
            (ENVIRONMENT_SECRETS, "RDS_PASSWORD"))])
    out(f"{env} now reads DATABASE_URL from {arn}; updating its configuration")


def allow_secret(iam, app: str, env: str, arn: str) -> None:
    """Add `arn` to what the instance role may read for this environment."""
    name = f"board-{app}-{env}-secrets"
    try:
        document = iam.get_role_policy(RoleName=INSTANCE_ROLE, PolicyName=name)["PolicyDocument"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        document = {"Statement": []}
    if isinstance(document, str):
        document = json.loads(document)
    parameters = [r for st in document["Statement"] if "ssm:GetParameter" in st["Action"] for r in st["Resource"]]
    secrets = [r for st in document["Statement"] if st["Action"] == "secretsmanager:GetSecretValue"
               for r in st["Resource"]]
    iam.put_role_policy(RoleName=INSTANCE_ROLE, PolicyName=name,
                        PolicyDocument=secretstore.reader_policy(parameters, sorted(set(secrets) | {arn})))


def create_everything(clients, app, env, choice, root, service_role, profile, out, platform, checked: Checked,
                      timeout: float, poll: float) -> None:
    eb = clients.eb
    options = read_extensions(root).options
    vpc = checked.vpc
    instances = database.ensure_group(clients.ec2, vpc, f"{env}-instances", f"board {env}: the app's instances", out)
    key_arn = secretstore.ensure_parameter(clients.ssm, f"/{app}/{env}/SECRET_KEY", secretstore.new_key, out)
    db_settings, secret_arns, db = database_settings(clients, app, env, choice, instances, checked, out, timeout, poll)
    clients.iam.put_role_policy(RoleName=INSTANCE_ROLE, PolicyName=f"board-{app}-{env}-secrets",
                                PolicyDocument=secretstore.reader_policy([key_arn], secret_arns))
    warning = db and database.budget_warning(root, options, db)
    if warning:
        out(warning)
    creation_only = options.get(ENVIRONMENT_SETTINGS, {})
    stack = checked.stack
    settings = [setting(LAUNCH_CONFIGURATION, "IamInstanceProfile", profile),
                setting(LAUNCH_CONFIGURATION, "SecurityGroups", instances),
                setting(ENVIRONMENT_SETTINGS, "ServiceRole", service_role),
                setting(ENVIRONMENT_SETTINGS, "LoadBalancerType",
                        creation_only.get("LoadBalancerType", "application")),
                setting(ENVIRONMENT_SECRETS, "SECRET_KEY", key_arn), *db_settings]
    create_environment(eb, {"ApplicationName": app, "EnvironmentName": env, "SolutionStackName": stack,
                            "OptionSettings": settings}, out)
    out(f"creating environment {env} on {stack}; the first release deploys the app")


def wait_until_ready(eb, app: str, env: str, timeout: float, poll: float, out, since: datetime) -> None:
    """Until Ready, showing the events since `since` (this run's, never older ones as if new)."""
    events = environment.EventStream(eb, app, env, since=since, out=out)
    try:
        state = environment.wait(eb, app, env, lambda s: s.status == "Ready", timeout, poll, events)
    except environment.TimedOut as timeout_error:
        raise DeployError(f"{env} is still {timeout_error.state.status} after {timeout:.0f} s; `python -m deploy "
                          "watch` follows it", DEPLOY_FAILED) from None
    out(f"{state.line()}; ready for `python -m deploy release`")
