"""Local AWS for tests: moto with the Elastic Beanstalk extension, dummy credentials (pytest fixtures)."""

import pytest
import requests
from botocore.retries.standard import ExponentialBackoff
from moto import mock_aws
from moto.server import ThreadedMotoServer

from deploy.aws import Clients
from localeb import eb_api
from testkit.ports import free_port

REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    eb_api.reset()
    eb_api.set_delay(0.05)
    yield
    eb_api.reset()


@pytest.fixture
def clients(aws_env):
    with mock_aws():
        yield Clients(region=REGION)


@pytest.fixture
def server(aws_env):
    """moto (with the EB extension) over HTTP on a free local port, as a separate AWS would be."""
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    url = f"http://127.0.0.1:{port}"
    # Backends are process-wide: start each test from an empty AWS.
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield url
    finally:
        moto.stop()


@pytest.fixture
def backoff(monkeypatch):
    """The delays botocore's retries choose, without jitter (the ceiling of each), slept at 1/100 to keep tests fast."""
    chosen: list[float] = []
    ceiling = ExponentialBackoff.delay_amount

    def delay_amount(self, context):
        self._random = lambda: 1.0
        chosen.append(ceiling(self, context))
        return chosen[-1] / 100

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", delay_amount)
    return chosen
