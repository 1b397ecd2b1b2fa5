"""boto3 clients from the command line's --region/--profile/--endpoint-url, with throttling retried visibly."""

from __future__ import annotations

import logging
import os
import sys
import threading

import boto3
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from .errors import DeployError

# "standard" retry mode backs off exponentially on throttling and transient errors.
RETRIES = Config(retries={"max_attempts": 10, "mode": "standard"}, user_agent_extra="board-deploy")
THROTTLING = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
              "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "RequestThrottled"}
SERVICE_NAMES = {"elasticbeanstalk": "EB", "s3": "S3"}


def resolve_region(flag: str | None, session_region: str | None = None) -> str | None:
    """--region, else AWS_REGION (which the AWS CLI reads and botocore does not), else boto3's own chain
    (AWS_DEFAULT_REGION, the profile's region)."""
    return flag or os.environ.get("AWS_REGION") or session_region


class RetryNotice(logging.Handler):
    """Says when botocore backs off: its standard retry mode logs each chosen delay at DEBUG, and
    `last_error` (set by a needs-retry hook that runs first) says what was refused."""

    last_error = threading.local()

    def __init__(self, out):
        super().__init__(logging.DEBUG)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith("Retry needed, retrying request after delay") or not record.args:
            return
        service, code = getattr(self.last_error, "value", ("AWS", None))
        why = "is throttling" if code in THROTTLING else f"answered {code or 'with a transient error'}"
        self.out(f"{service} {why}, retrying in {float(record.args[0]):.3g} s")


_notice: RetryNotice | None = None


def show_retries(out) -> None:
    """Route botocore's retry decisions to `out` (once per process; the newest `out` wins)."""
    global _notice
    logger = logging.getLogger("botocore.retries.standard")
    if _notice is None:
        _notice = RetryNotice(out)
        logger.addHandler(_notice)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    _notice.out = out


def remember_error(service: str):
    def hook(response=None, **_):
        code = response[1].get("Error", {}).get("Code") if response and len(response) > 1 else None
        RetryNotice.last_error.value = (service, code)

    return hook


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
        self._cache: dict[str, object] = {}
        show_retries(out or (lambda line: print(line, file=sys.stderr)))

    def check_region(self) -> None:
        """A mistyped region fails here, at once, not after DNS lookups retried for half a minute."""
        if self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or not self.region:
            return
        known = {region for partition in self.session.get_available_partitions()
                 for region in self.session.get_available_regions("elasticbeanstalk", partition)}
        if known and self.region not in known:
            raise DeployError(f"unknown AWS region {self.region!r} (Elastic Beanstalk runs in e.g. us-east-1, "
                              "eu-west-1; check --region, AWS_REGION and AWS_DEFAULT_REGION)")

    def __getattr__(self, service: str):
        if service.startswith("_"):
            raise AttributeError(service)
        name = {"eb": "elasticbeanstalk"}.get(service, service)
        if name not in self._cache:
            kwargs = {"config": RETRIES, "region_name": self.region}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            client = self.session.client(name, **kwargs)
            client.meta.events.register_first(f"needs-retry.{client.meta.service_model.service_id.hyphenize()}",
                                              remember_error(SERVICE_NAMES.get(name, name)))
            self._cache[name] = client
        return self._cache[name]
