"""boto3 clients from the command line's --region/--profile/--endpoint-url, with throttling retried."""

from __future__ import annotations

import boto3
from botocore.config import Config

# "standard" retry mode backs off exponentially on throttling and transient errors.
RETRIES = Config(retries={"max_attempts": 10, "mode": "standard"}, user_agent_extra="board-deploy")


class Clients:
    def __init__(self, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None):
        self.session = boto3.Session(profile_name=profile, region_name=region)
        # boto3 also reads AWS_ENDPOINT_URL itself; an explicit flag wins.
        self.endpoint_url = endpoint_url
        self._cache: dict[str, object] = {}

    def __getattr__(self, service: str):
        if service.startswith("_"):
            raise AttributeError(service)
        name = {"eb": "elasticbeanstalk"}.get(service, service)
        if name not in self._cache:
            kwargs = {"config": RETRIES}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            self._cache[name] = self.session.client(name, **kwargs)
        return self._cache[name]
