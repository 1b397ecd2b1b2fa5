"""docs/schema-changes.md's three-release column rename (authors.name → display_name), each release rolled
onto two local instances while visitors register, log in, post and read: no failed request, no lost post."""

from __future__ import annotations

import pytest
import requests

from testkit.rollouts import ROLLING, deploy_under_load
from tests.deploy.test_schema_change_example import MODEL_AFTER, MODEL_BEFORE, add_release_revision, switch_model

from .conftest import serving_v1

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.reliability]
RELEASES = ["rename1_expand", "rename2_switch", "rename3_contract"]


def release(number: int):
    """The tree of release `number` (1 to 3): its revisions so far, and from release 2 on the switched model."""
    def edit(tree):
        for name in RELEASES[:number]:
            add_release_revision(tree, name)
        if number >= 2:
            switch_model(tree, MODEL_BEFORE, MODEL_AFTER)
    return edit


@pytest.fixture(scope="module")
def fleet(docker_engine, make_bundle):
    with serving_v1(make_bundle, instances=2, health_wait=30) as started:
        yield started


@pytest.mark.parametrize("number", [1, 2, 3])
def test_each_release_of_the_rename_rolls_under_load_and_drops_nothing(fleet, make_bundle, number):
    # The releases run in order on the module's fleet: each one rolls over the one before it.
    run = deploy_under_load(fleet, make_bundle(f"rename{number}", release(number)), f"rename-{number}",
                            options=ROLLING)
    assert run.result.ok, run.result.events
    assert len(run.report.answers) > 50, "the load did not run"
    assert run.report.failures == [], run.balancer_log
    assert run.report.posted and run.lost == []
    assert requests.get(fleet.url + "/version", timeout=5).json()["schema"] == f"rename{number}"
