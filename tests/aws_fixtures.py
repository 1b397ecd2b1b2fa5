"""Local AWS for tests: moto with the Elastic Beanstalk extension, dummy credentials (pytest fixtures)."""

import json

import botocore.loaders
import botocore.session
import pytest
import requests
from botocore.retries.standard import ExponentialBackoff
from moto import mock_aws
from moto.iam import models as iam_models
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.server import ThreadedMotoServer

from deploy.aws import Clients
from localeb import eb_api, ecr_api
from localeb import registry as registries
from testkit.components import unavailable
from testkit.ports import free_port

REGION = "us-east-1"


@pytest.fixture(scope="session", autouse=True)
def models_parsed_once():
    """Each test makes its own boto3 Session and moto backends, and both parse the same large JSON again: botocore
    its service models, moto AWS's managed IAM policies for each of its partitions at every reset. Neither changes
    within a run, so the tests share one botocore loader (it caches what it parsed) and build the managed policies
    from one parse, in the `aws` partition only (the only one the project uses)."""
    loader = botocore.loaders.create_loader()
    policies = json.loads(aws_managed_policies_data)

    def aws_policies(backend):
        if not iam_models.load_iam_aws_managed_policies() or backend.region_name != "aws":
            return []
        return [iam_models.AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
                for name, data in policies.items()]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *args, **kwargs: loader)
        patch.setattr(iam_models.IAMBackend, "_init_aws_policies", aws_policies)
        yield


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


@pytest.fixture
def registry(docker_engine):
    """A real registry (docker-registry) behind moto's ECR: pushes and pulls of ECR repositories land in it."""
    if registries.binary() is None:
        unavailable("REQUIRE_REGISTRY", registries.MISSING)
    started = registries.start()
    ecr_api.use_registry(started.host)
    try:
        yield started
    finally:
        ecr_api.use_registry(None)
        started.stop()
