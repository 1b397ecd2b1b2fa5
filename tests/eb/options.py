"""Real Elastic Beanstalk option names (from the EB "General options for all environments"
reference) with a check for each value's type; a namespace or option missing here is a typo
EB would reject or, worse, silently ignore."""

from __future__ import annotations

import re

from deploy.namespaces import DEFAULT_PROCESS
from localeb.balancer import PROCESS_DEFAULTS


def boolean(value) -> bool:
    return value is True or value is False or str(value).lower() in ("true", "false")


def integer(low: int, high: int):
    return lambda value: str(value).isdigit() and low <= int(value) <= high


def one_of(*choices):
    return lambda value: str(value) in choices


def text(value) -> bool:
    return isinstance(value, str | int | float) and len(str(value)) <= 256


RETENTION_DAYS = one_of(*map(str, (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)))
ENVIRONMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

OPTIONS = {
    "aws:elasticbeanstalk:environment": {
        "LoadBalancerType": one_of("classic", "application", "network"),
        "EnvironmentType": one_of("LoadBalanced", "SingleInstance"),
    },
    "aws:elasticbeanstalk:environment:process:default": {
        "HealthCheckPath": lambda v: str(v).startswith("/"),
        "MatcherHTTPCode": lambda v: re.fullmatch(r"[1-5]\d\d(-[1-5]\d\d)?(,[1-5]\d\d)*", str(v)) is not None,
        "HealthCheckInterval": integer(5, 300),
        "HealthCheckTimeout": integer(1, 60),
        "HealthyThresholdCount": integer(2, 10),
        "UnhealthyThresholdCount": integer(2, 10),
        "DeregistrationDelay": integer(0, 3600),
        "Port": integer(1, 65535),
        "Protocol": one_of("HTTP", "HTTPS", "TCP"),
        "StickinessEnabled": boolean,
    },
    "aws:elbv2:loadbalancer": {
        "IdleTimeout": integer(1, 3600),
    },
    "aws:elasticbeanstalk:healthreporting:system": {
        "SystemType": one_of("basic", "enhanced"),
        "EnhancedHealthAuthEnabled": boolean,
    },
    "aws:elasticbeanstalk:cloudwatch:logs": {
        "StreamLogs": boolean, "DeleteOnTerminate": boolean, "RetentionInDays": RETENTION_DAYS,
    },
    "aws:elasticbeanstalk:cloudwatch:logs:health": {
        "HealthStreamingEnabled": boolean, "DeleteOnTerminate": boolean, "RetentionInDays": RETENTION_DAYS,
    },
    "aws:elasticbeanstalk:command": {
        "DeploymentPolicy": one_of("AllAtOnce", "Rolling", "RollingWithAdditionalBatch", "Immutable",
                                   "TrafficSplitting"),
        "BatchSizeType": one_of("Percentage", "Fixed"),
        "BatchSize": integer(1, 10000),
        "Timeout": integer(1, 3600),
        "IgnoreHealthCheck": boolean,
    },
    "aws:autoscaling:updatepolicy:rollingupdate": {
        "RollingUpdateEnabled": boolean,
        "RollingUpdateType": one_of("Time", "Health", "Immutable"),
        "MaxBatchSize": integer(1, 10000),
        "MinInstancesInService": integer(0, 10000),
        "Timeout": lambda v: re.fullmatch(r"PT(\d+H)?(\d+M)?(\d+S)?", str(v)) is not None,
    },
}
# A load balancer listener, `aws:elbv2:listener:default` (port 80) or `aws:elbv2:listener:<port>`
# (EB developer guide, "General options for all environments", aws:elbv2:listener).
LISTENER_NAMESPACE = re.compile(r"aws:elbv2:listener:(default|\d{1,5})")
CERTIFICATE_ARN = r"arn:aws[a-z-]*:(acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+|iam::\d{12}:server-certificate/\S+)"
LISTENER = {
    "ListenerEnabled": boolean,
    "Protocol": one_of("HTTP", "HTTPS"),
    "SSLCertificateArns": lambda v: re.fullmatch(rf"{CERTIFICATE_ARN}(,{CERTIFICATE_ARN})*", str(v)) is not None,
    "SSLPolicy": lambda v: re.fullmatch(r"ELBSecurityPolicy-[A-Za-z0-9-]+", str(v)) is not None,
    "DefaultProcess": lambda v: re.fullmatch(r"[A-Za-z0-9]{1,16}", str(v)) is not None,
    "Rules": lambda v: re.fullmatch(r"[A-Za-z0-9]{1,16}(,[A-Za-z0-9]{1,16})*", str(v)) is not None,
}
# EB's own CloudFormation resources a configuration file may override under `Resources`, with their types
# ("Customizing your environment resources" in the EB developer guide).
RESOURCES = {"AWSEBV2LoadBalancerListener": "AWS::ElasticLoadBalancingV2::Listener"}
# Free-form namespaces: any variable name, each value checked.
ENVIRONMENT_NAMESPACES = {
    "aws:elasticbeanstalk:application:environment": text,
    "aws:elasticbeanstalk:application:environmentsecrets":
        lambda v: re.fullmatch(r"arn:aws[a-z-]*:(ssm|secretsmanager):[a-z0-9-]+:\d{12}:\S+", str(v)) is not None,
}


def problems(namespace: str, settings: dict) -> list[str]:
    """What is wrong with one namespace's settings (empty when all is well)."""
    if namespace in ENVIRONMENT_NAMESPACES:
        check = ENVIRONMENT_NAMESPACES[namespace]
        return [f"{namespace}: {name}={value!r}" for name, value in settings.items()
                if not ENVIRONMENT_NAME.fullmatch(name) or not check(value)]
    listener = LISTENER_NAMESPACE.fullmatch(namespace)
    if listener and listener[1] != "default" and not 1 <= int(listener[1]) <= 65535:
        return [f"{namespace}: no such port"]
    if namespace not in OPTIONS and not listener:
        return [f"unknown namespace {namespace}"]
    known = LISTENER if listener else OPTIONS[namespace]
    found = [f"{namespace}: {name}={value!r}" for name, value in settings.items()
             if name not in known or not known[name](value)]
    if namespace == DEFAULT_PROCESS and not found:
        # ELB's CreateTargetGroup refuses it for an ALB: "Health check interval must be greater than the timeout."
        interval, timeout = (int(settings.get(name, PROCESS_DEFAULTS[name]))
                             for name in ("HealthCheckInterval", "HealthCheckTimeout"))
        if timeout >= interval:
            found.append(f"{namespace}: HealthCheckTimeout={timeout} is not below HealthCheckInterval={interval}")
    return found


def resource_problems(resources: dict) -> list[str]:
    """What is wrong with a configuration file's `Resources` (overrides of EB's own resources)."""
    found = []
    for name, resource in resources.items():
        if RESOURCES.get(name) != resource.get("Type"):
            found.append(f"{name}: not an EB resource of type {resource.get('Type')!r}")
        elif resource.get("Properties", {}).get("LoadBalancerArn") != {"Ref": "AWSEBV2LoadBalancer"}:
            found.append(f"{name}: LoadBalancerArn must be {{Ref: AWSEBV2LoadBalancer}}, the environment's")
    return found

