"""Deployment policies and the target group read from option settings, as EB defines them."""

from __future__ import annotations

from deploy.namespaces import DEPLOYMENT_POLICY
from localeb.balancer import TIME_SCALE, TIMEOUT_FLOOR, TargetGroup
from localeb.rollout import Policy, batches


def test_batch_size_is_a_number_when_fixed_and_a_share_rounded_up_when_a_percentage():
    assert Policy.from_options({DEPLOYMENT_POLICY: {"DeploymentPolicy": "Rolling", "BatchSizeType": "Fixed",
                                                    "BatchSize": "2"}}).batch(5) == 2
    assert Policy.from_options({DEPLOYMENT_POLICY: {"DeploymentPolicy": "Rolling", "BatchSizeType": "Percentage",
                                                    "BatchSize": "30"}}).batch(5) == 2
    assert Policy.from_options({DEPLOYMENT_POLICY: {"BatchSizeType": "Percentage", "BatchSize": "1"}}).batch(3) == 1
    assert Policy.from_options({DEPLOYMENT_POLICY: {"BatchSizeType": "Fixed", "BatchSize": "9"}}).batch(3) == 3
    assert [len(batch) for batch in batches(list(range(5)), 2)] == [2, 2, 1]


def test_eb_defaults_apply_when_nothing_is_set():
    policy = Policy.from_options({})
    assert (policy.name, policy.batch(4)) == ("AllAtOnce", 4)
    assert policy.new_version_percent == 10 and policy.evaluation == 5 * 60 * TIME_SCALE
    group = TargetGroup.from_options({})
    assert (group.path, group.healthy, group.unhealthy, group.matcher) == ("/", 3, 5, "200")
    assert group.interval == 15 * TIME_SCALE and group.deregistration_delay == 20  # requests take real time


def test_the_repos_settings_reach_the_target_group_and_the_policy(tmp_path):
    from deploy.ebextensions import read_extensions
    from testkit.tree import ROOT

    options = read_extensions(ROOT).options
    group, policy = TargetGroup.from_options(options), Policy.from_options(options)
    assert group.path == "/healthz" and group.interval == 5 * TIME_SCALE
    assert group.timeout == TIMEOUT_FLOOR  # 4 s scaled is below the floor a request's own time needs
    assert (policy.name, policy.batch(2)) == ("RollingWithAdditionalBatch", 1)
    assert policy.timeout == 900 * TIME_SCALE
