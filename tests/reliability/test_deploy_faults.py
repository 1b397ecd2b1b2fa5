"""The release under AWS faults: a failing upload registers nothing; throttling is backed off and retried."""

from __future__ import annotations

import pytest
from botocore.awsrequest import AWSResponse

from deploy import environment, follow, provision, release
from deploy.errors import USAGE, DeployError
from localeb import eb_api
from testkit.tree import ROOT

pytestmark = pytest.mark.reliability
APP, ENV = "board", "board-faults"


class FakeHTTP:
    """A raw HTTP response for botocore's before-send hook."""

    def __init__(self, status: int, body: bytes):
        self.status_code, self.content, self.headers = status, body, {}

    def stream(self):
        yield self.content


def respond(status: int, body: bytes) -> AWSResponse:
    return AWSResponse("https://aws.invalid/", status, {"Content-Type": "text/xml"}, FakeHTTP(status, body))


@pytest.fixture
def ready(clients):
    provision.provision(clients, APP, ENV, out=lambda line: None)
    environment.wait(clients.eb, APP, ENV, lambda s: s.status == "Ready", 5, 0.02)
    return clients


def test_a_failing_upload_is_one_clear_error_and_registers_no_version(ready, backoff, tmp_path):
    calls = []

    # botocore emits before-send to every handler, so moto still stores each attempt's object; the
    # client sees only the 500s, which is what the release reacts to.
    def s3_down(request, **_):
        if request.method == "PUT":
            calls.append(request.url)
            return respond(500, b"<Error><Code>InternalError</Code><Message>We encountered an internal error."
                                b"</Message></Error>")
        return None

    ready.s3.meta.events.register("before-send.s3.PutObject", s3_down)
    with pytest.raises(DeployError) as failure:
        release.release(ready, ROOT, APP, ENV, "v1", follow.Policy(timeout=5, poll=0.02), tmp_path,
                        out=lambda line: None)
    assert failure.value.exit_code == USAGE
    assert "upload to s3://" in str(failure.value) and "no version was created" in str(failure.value)
    # Retried 10 times, backing off exponentially from 50 ms (botocore's scale for server errors) up to 20 s.
    assert len(calls) == 11
    assert backoff == pytest.approx([min(0.05 * 2 ** attempt, 20) for attempt in range(10)])
    assert ready.eb.describe_application_versions(ApplicationName=APP)["ApplicationVersions"] == []
    assert environment.describe(ready.eb, APP, ENV).version is None


def test_throttling_is_retried_with_backoff_and_the_release_succeeds(ready, backoff, tmp_path):
    # Refused by (moto's) Elastic Beanstalk itself, so a refused call has no effect, as on AWS.
    eb_api.throttle("UpdateEnvironment", 2)
    state = release.release(ready, ROOT, APP, ENV, "v1", follow.Policy(timeout=5, poll=0.02), tmp_path,
                        out=lambda line: None)
    assert eb_api.throttled["UpdateEnvironment"] == 0
    assert backoff == [1, 2]  # botocore's throttling backoff: up to 1 s, then up to 2 s
    assert (state.version, state.health) == ("v1", "Green")
