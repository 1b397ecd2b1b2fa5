"""boto3 clients from the command line's --region/--profile/--endpoint-url, with throttling retried visibly."""

from __future__ import annotations

import os
import sys
import threading
from functools import cached_property

import boto3
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from .errors import DeployError

# "standard" retry mode backs off exponentially on throttling and transient errors.
RETRY_ATTEMPTS = 10
RETRIES = Config(retries={"max_attempts": RETRY_ATTEMPTS, "mode": "standard"}, user_agent_extra="board-deploy")
THROTTLING = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
              "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "RequestThrottled"}
SERVICE_NAMES = {"elasticbeanstalk": "EB", "s3": "S3"}


def resolve_region(flag: str | None, session_region: str | None = None) -> str | None:
    """--region, else AWS_REGION (which the AWS CLI reads and botocore does not), else boto3's own chain
    (AWS_DEFAULT_REGION, the profile's region)."""
    return flag or os.environ.get("AWS_REGION") or session_region


class RetryNotices:
    """Says when botocore retries a call, and why: a needs-retry handler notes each answer (registered first, it
    runs before the standard retry mode decides), and each new attempt's request-created event reports it."""

    def __init__(self, service: str, out):
        self.service, self.out = service, out
        self.last_code = threading.local()

    def note(self, response=None, **_) -> None:
        self.last_code.value = response[1].get("Error", {}).get("Code") if response and len(response) > 1 else None

    def report(self, request, **_) -> None:
        retries = request.context.get("retries", {})
        if retries.get("attempt", 1) > 1:
            code = getattr(self.last_code, "value", None)
            why = "is throttling" if code in THROTTLING else f"answered {code or 'with a transient error'}"
            self.out(f"{self.service} {why}, retrying (attempt {retries['attempt']} of {RETRY_ATTEMPTS})")


def service(name: str) -> cached_property:
    """A Clients attribute: the service's client, made on first use."""
    return cached_property(lambda clients: clients._client(name))


class Clients:
    def __init__(self, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None,
                 out=None):
        try:
            self.session = boto3.Session(profile_name=profile)
        except ProfileNotFound:
            raise DeployError(f"no AWS profile {profile!r} in ~/.aws/config or ~/.aws/credentials") from None
        self.region = resolve_region(region, self.session.region_name)
        # boto3 also reads AWS_ENDPOINT_URL itself; an explicit flag wins.
        self.endpoint_url = endpoint_url
        self.out = out or (lambda line: print(line, file=sys.stderr))

    def check_region(self) -> None:
        """A mistyped region fails here, at once, not after DNS lookups retried for half a minute."""
        if self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or not self.region:
            return
        known = {region for partition in self.session.get_available_partitions()
                 for region in self.session.get_available_regions("elasticbeanstalk", partition)}
        if known and self.region not in known:
            raise DeployError(f"unknown AWS region {self.region!r} (Elastic Beanstalk runs in e.g. us-east-1, "
                              "eu-west-1; check --region, AWS_REGION and AWS_DEFAULT_REGION)")

    def _client(self, name: str):
        kwargs = {"config": RETRIES, "region_name": self.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        client = self.session.client(name, **kwargs)
        notices = RetryNotices(SERVICE_NAMES.get(name, name), self.out)
        service_id = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"needs-retry.{service_id}", notices.note)
        client.meta.events.register(f"request-created.{service_id}", notices.report)
        return client

    eb = service("elasticbeanstalk")
    s3, iam, ssm, secretsmanager = service("s3"), service("iam"), service("ssm"), service("secretsmanager")
    rds, ec2, ecr = service("rds"), service("ec2"), service("ecr")
