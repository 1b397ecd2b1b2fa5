"""Option settings as Elastic Beanstalk resolves and checks them, for the moto EB extension.

What EB documents, and this module reproduces:
- Precedence ("Configuration options" → Precedence): settings applied through the API (create/update
  environment, including the EB CLI's client defaults) win over the source bundle's `.ebextensions`
  (files in name order), which win over EB's defaults. Removing an API setting lets the file's value
  apply again.
- `aws:rds:dbinstance`: a database created with the environment is an RDS instance in the
  environment's stack; DBInstanceClass defaults to db.t2.micro, and RDS refuses db.t2 (and older
  classes) for PostgreSQL 13 and later, which fails the launch. Current RDS PostgreSQL majors: 13–17.
- `aws:elasticbeanstalk:environment` LoadBalancerType defaults to classic; MatcherHTTPCode applies to
  application and network load balancers only (ignored, with a warning, on classic).
- With StreamLogs on (`aws:elasticbeanstalk:cloudwatch:logs`), each instance streams the platform's logs
  to CloudWatch Logs groups named /aws/elasticbeanstalk/<environment>/<file path>, one stream per instance;
  files the platform does not stream (such as our /var/log/board-migrate.log) are not there.
- The environment's stack creates an instance security group (logical id AWSEBSecurityGroup) and, when
  load balanced, one for the load balancer, tagged with the environment's name and id.
"""

from __future__ import annotations

import io
import time
import uuid
import zipfile

import yaml
from moto.ec2.models import ec2_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends

from deploy.namespaces import DEFAULT_PROCESS, DEPLOYMENT_POLICY, ENVIRONMENT_SETTINGS, HEALTH_REPORTING, RDS_DATABASE

DEFAULTS = {
    (ENVIRONMENT_SETTINGS, "EnvironmentType"): "LoadBalanced",
    (ENVIRONMENT_SETTINGS, "LoadBalancerType"): "classic",
    (DEPLOYMENT_POLICY, "DeploymentPolicy"): "AllAtOnce",
    (DEPLOYMENT_POLICY, "BatchSizeType"): "Percentage",
    (DEPLOYMENT_POLICY, "BatchSize"): "100",
    (HEALTH_REPORTING, "SystemType"): "basic",
}
RDS_DEFAULTS = {"DBInstanceClass": "db.t2.micro", "DBAllocatedStorage": "5", "DBEngine": "mysql"}
POSTGRES_MAJORS = range(13, 18)
POSTGRES_DEFAULT_VERSION = "17.6"
# Classes RDS no longer offers for the PostgreSQL majors above.
RETIRED_CLASS_PREFIXES = ("db.t1.", "db.t2.", "db.m1.", "db.m2.", "db.m3.", "db.r3.")


def key(option: dict) -> tuple[str, str]:
    return option["Namespace"], option["OptionName"]


def as_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def config_file_settings(text: str | bytes) -> list[dict]:
    """The option_settings of one .ebextensions config file (either of the two forms EB accepts)."""
    options = (yaml.safe_load(text) or {}).get("option_settings") or {}
    if isinstance(options, dict):
        items = [(ns, opt, val) for ns, values in options.items() for opt, val in (values or {}).items()]
    else:
        items = [(o.get("namespace"), o["option_name"], o.get("value")) for o in options]
    return [{"Namespace": ns, "OptionName": opt, "Value": as_text(val)} for ns, opt, val in items]


def ebextensions_settings(bundle: bytes) -> list[dict]:
    """The option_settings of a source bundle's .ebextensions/*.config files, in the order EB applies them."""
    found: dict[tuple[str, str], dict] = {}
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith(".ebextensions/") and n.endswith(".config")
                       and n.count("/") == 1)
        for name in names:
            found.update({key(o): o for o in config_file_settings(archive.read(name))})
    return list(found.values())


def version_bundle(account_id: str, version: dict | None) -> bytes | None:
    if not version:
        return None
    source = version["SourceBundle"]
    return s3_backends[account_id]["global"].get_object(source["S3Bucket"], source["S3Key"]).value


def apply_update(stored: list[dict], options: list[dict], to_remove: list[dict]) -> list[dict]:
    """The API-level settings after update_environment(OptionSettings=..., OptionsToRemove=...)."""
    gone = {key(o) for o in options} | {key(o) for o in to_remove}
    return [o for o in stored if key(o) not in gone] + list(options)


def effective(api: list[dict], files: list[dict]) -> dict[tuple[str, str], str]:
    """Each option's value in force: the API's, else the files', else EB's default."""
    values = dict(DEFAULTS)
    values.update({key(o): as_text(o.get("Value", "")) for o in files})
    values.update({key(o): as_text(o.get("Value", "")) for o in api})
    if any(namespace == RDS_DATABASE for namespace, _ in values):
        for option, default in RDS_DEFAULTS.items():
            values.setdefault((RDS_DATABASE, option), default)
    if values.get((ENVIRONMENT_SETTINGS, "LoadBalancerType")) == "classic":
        values.pop((DEFAULT_PROCESS, "MatcherHTTPCode"), None)
    return values


def as_option_settings(values: dict[tuple[str, str], str]) -> list[dict]:
    return [{"Namespace": ns, "OptionName": opt, "Value": value} for (ns, opt), value in sorted(values.items())]


def warnings(api: list[dict], files: list[dict]) -> list[str]:
    values = effective(api, files)
    requested = {key(o) for o in api + files}
    classic = values[(ENVIRONMENT_SETTINGS, "LoadBalancerType")] == "classic"
    if (DEFAULT_PROCESS, "MatcherHTTPCode") in requested and classic:
        return [f"Option {DEFAULT_PROCESS}:MatcherHTTPCode applies to application and network load balancers only; "
                "this environment's classic load balancer ignores it."]
    return []


def database_refusal(values: dict[tuple[str, str], str]) -> str | None:
    """Why RDS refuses to create the environment's database, in RDS's words; None if it accepts."""
    if (RDS_DATABASE, "DBEngine") not in values or values[(RDS_DATABASE, "DBEngine")] != "postgres":
        return None
    version = values.get((RDS_DATABASE, "DBEngineVersion")) or POSTGRES_DEFAULT_VERSION
    major = version.split(".")[0]
    if not major.isdigit() or int(major) not in POSTGRES_MAJORS:
        return f"Cannot find version {version} for postgres"
    instance_class = values[(RDS_DATABASE, "DBInstanceClass")]
    if instance_class.startswith(RETIRED_CLASS_PREFIXES):
        return ("RDS does not support creating a DB instance with the following combination: "
                f"DBInstanceClass={instance_class}, Engine=postgres, EngineVersion={version}, "
                "LicenseModel=postgresql-license. For supported combinations of instance class and database "
                "engine version, see the documentation.")
    return None


def create_security_groups(account_id: str, region: str, env_name: str, env_id: str, load_balanced: bool) -> None:
    """The groups the environment's stack creates, tagged as EB and CloudFormation tag them."""
    ec2 = ec2_backends[account_id][region]
    stack = f"awseb-{env_id}-stack"
    # The load balancer's first: a lookup by the environment's tags alone then finds the wrong group, as it may on AWS.
    for logical_id in (["AWSEBLoadBalancerSecurityGroup"] if load_balanced else []) + ["AWSEBSecurityGroup"]:
        ec2.create_security_group(
            f"{stack}-{logical_id}-{uuid.uuid4().hex[:12].upper()}", f"Elastic Beanstalk {logical_id}",
            tags={"elasticbeanstalk:environment-name": env_name, "elasticbeanstalk:environment-id": env_id,
                  "Name": env_name, "aws:cloudformation:logical-id": logical_id,
                  "aws:cloudformation:stack-name": stack})


# The files the Docker platform on Amazon Linux 2023 streams ("Instance log streaming" in EB's guide).
STREAMED_LOGS = ["/var/log/eb-engine.log", "/var/log/eb-hooks.log", "/var/log/docker", "/var/log/docker-events.log",
                 "/var/log/eb-docker/containers/eb-current-app/stdouterr.log", "/var/log/nginx/access.log",
                 "/var/log/nginx/error.log"]


def create_log_groups(account_id: str, region: str, env_name: str, instance_ids: list[str]) -> None:
    logs = logs_backends[account_id][region]
    for path in STREAMED_LOGS:
        group = f"/aws/elasticbeanstalk/{env_name}{path}"
        if group not in logs.groups:
            logs.create_log_group(group, tags={})
        for instance in instance_ids:
            logs.create_log_stream(group, instance)
            logs.put_log_events(group, instance, [{"timestamp": int(time.time() * 1000),
                                                   "message": f"{path} on {instance}"}])
