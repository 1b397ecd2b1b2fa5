"""TrafficSplitting under load: a canary of new instances gets a share of the requests for the evaluation
time, then all of them; a canary that fails its health check is removed and the old instance keeps serving."""

from __future__ import annotations

import pytest

from deploy.namespaces import DEPLOYMENT_POLICY, TRAFFIC_SPLITTING
from testkit.rollouts import code_change, deploy_under_load, exits_at_boot

from .conftest import serving_v1, version

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.reliability]
SPLITTING = {DEPLOYMENT_POLICY: {"DeploymentPolicy": "TrafficSplitting"},
             TRAFFIC_SPLITTING: {"NewVersionPercent": "20", "EvaluationTime": "2"}}


@pytest.fixture(scope="module")
def fleet(docker_engine, make_bundle):
    with serving_v1(make_bundle, instances=1, health_wait=30) as started:
        yield started


def test_a_canary_that_fails_its_health_check_is_removed_and_the_old_instance_answers_everything(fleet,
                                                                                                  make_bundle):
    old = [engine.instance.id for engine in fleet.engines]
    run = deploy_under_load(fleet, make_bundle("canary-exits", exits_at_boot), "v-bad", options=SPLITTING)
    assert not run.result.ok and run.result.unhealthy
    assert run.report.failures == [], run.balancer_log
    assert run.lost == [] and set(run.report.versions) == {"v1"}
    assert [engine.instance.id for engine in fleet.engines] == old
    assert set(fleet.balancer.health()) == set(old), fleet.balancer.health()  # the canary is gone


def test_a_healthy_canary_takes_a_share_then_everything_and_the_old_instance_goes(fleet, make_bundle):
    old = [engine.instance.id for engine in fleet.engines]
    run = deploy_under_load(fleet, make_bundle("canary-good", code_change), "v2", options=SPLITTING)
    assert run.result.ok, run.result.events
    assert run.report.failures == [], run.balancer_log
    assert run.lost == []
    assert set(run.report.versions) == {"v1", "v2"} and version(fleet.url) == "v2"
    new = [engine.instance.id for engine in fleet.engines]
    assert len(new) == 1 and new != old and set(fleet.balancer.health()) == set(new)
    assert run.served[new[0]] > 0
