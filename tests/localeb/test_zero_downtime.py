"""Deploys under load on two local instances behind the ALB-like load balancer: visitors reading and
writing through it see no failed request and lose no post, whether the new version is good or bad."""

from __future__ import annotations

import pytest
import requests

from testkit.rollouts import ROLLING, adds_a_column, code_change, deploy_under_load, exits_at_boot, on_top
from testkit.rollouts import predeploy_fails as hook_fails

from .conftest import serving_v1, version

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.reliability]


@pytest.fixture(scope="module")
def fleet(docker_engine, make_bundle):
    with serving_v1(make_bundle, instances=2, health_wait=30) as started:
        yield started


def assert_nothing_noticed(run) -> None:
    assert len(run.report.answers) > 50, "the load did not run"
    assert run.report.failures == [], run.balancer_log
    assert run.report.posted and run.lost == []


def test_a_code_change_rolls_with_an_additional_batch_and_drops_nothing(fleet, make_bundle):
    # The repo's own policy (.ebextensions): RollingWithAdditionalBatch, one instance a batch: three at the peak.
    run = deploy_under_load(fleet, make_bundle("code-change", code_change), "v2")
    assert run.result.ok, run.result.events
    assert_nothing_noticed(run)
    assert set(run.report.versions) == {"v1", "v2"} and version(fleet.url) == "v2"
    assert len(run.served) == 3  # the additional instance took requests too, and is gone again
    assert len(fleet.engines) == 2 and set(fleet.balancer.health()) == {e.instance.id for e in fleet.engines}


def test_a_migration_adding_a_column_rolls_and_drops_nothing(fleet, make_bundle):
    run = deploy_under_load(fleet, make_bundle("add-column", adds_a_column), "v3", options=ROLLING)
    assert run.result.ok, run.result.events
    assert_nothing_noticed(run)
    assert requests.get(fleet.url + "/version", timeout=5).json() == {"version": "v3",
                                                                      "schema": "9001_add_post_mood"}


def test_a_failing_predeploy_hook_stops_the_rollout_and_the_old_version_answers_everything(fleet, make_bundle):
    before = fleet.version
    bundle = make_bundle("predeploy-fails", on_top(adds_a_column, hook_fails))  # the migration stays
    run = deploy_under_load(fleet, bundle, "v4", options=ROLLING)
    assert not run.result.ok and run.result.failure.step == "RunAppDeployPreDeployHooks"
    assert_nothing_noticed(run)
    assert set(run.report.versions) == {before}
    assert not any(event.message.startswith("Batch 2") for event in run.result.events)  # it stopped at batch 1


def test_a_version_failing_its_health_check_is_aborted_and_takes_no_traffic(fleet, make_bundle):
    before = fleet.version
    bundle = make_bundle("exits-at-boot", on_top(adds_a_column, exits_at_boot))
    run = deploy_under_load(fleet, bundle, "v5", options=ROLLING)
    first = fleet.engines[0].instance.id
    assert not run.result.ok and run.result.unhealthy == [first]
    messages = [event.message for event in run.result.events]
    assert f"Instance id(s) '{first}' did not pass health check after command execution. Aborting the operation." \
        in messages
    assert not any(message.startswith("Batch 2") for message in messages)
    assert_nothing_noticed(run)
    assert set(run.report.versions) == {before}
    # Left on the bad version, registered but unhealthy: the load balancer sends it nothing.
    assert fleet.balancer.health()[first]["state"] == "unhealthy"
    assert fleet.balancer.health()[first]["served"] == 0
