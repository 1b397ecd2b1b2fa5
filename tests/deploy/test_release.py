"""Releases against moto's Elastic Beanstalk (with the extension): the happy path and every way it goes wrong."""

from __future__ import annotations

import pytest

from deploy import environment, follow, provision, prune, release, versions
from deploy.errors import DEPLOY_FAILED, NEEDS_ATTENTION, USAGE, DeployError
from localeb import eb_api
from testkit.tree import ROOT
from tests.deploy.conftest import APP, ENV, POLL, ship


def back(clients, to=None, **policy):
    return release.roll_back(clients, APP, ENV, to, follow.Policy(timeout=5, poll=POLL, **policy),
                             out=lambda line: None)


def app_version_option(clients) -> str | None:
    settings = clients.eb.describe_configuration_settings(ApplicationName=APP, EnvironmentName=ENV)
    options = settings["ConfigurationSettings"][0]["OptionSettings"]
    return next((o["Value"] for o in options if o["OptionName"] == "APP_VERSION"), None)


def test_provision_is_idempotent_and_picks_the_latest_docker_al2023_stack(clients):
    lines = []
    provision.provision(clients, APP, ENV, out=lines.append)
    provision.provision(clients, APP, ENV, out=lines.append)
    [env] = clients.eb.describe_environments(ApplicationName=APP)["Environments"]
    assert env["SolutionStackName"] == "64bit Amazon Linux 2023 v4.10.0 running Docker"  # 4.10 > 4.6: numeric
    app = clients.eb.describe_applications(ApplicationNames=[APP])["Applications"][0]
    assert app["ResourceLifecycleConfig"]["VersionLifecycleConfig"]["MaxCountRule"]["MaxCount"] == 200
    assert clients.iam.get_instance_profile(InstanceProfileName=provision.INSTANCE_ROLE)["InstanceProfile"]["Roles"]
    assert sum("created role" in line for line in lines) == 2  # twice the same call, roles made once


def test_provision_on_the_python_platform_picks_the_latest_python_3_12_stack_and_maps_static_files(clients):
    provision.provision(clients, APP, ENV, out=lambda line: None, platform="python")
    [env] = clients.eb.describe_environments(ApplicationName=APP)["Environments"]
    assert env["SolutionStackName"] == "64bit Amazon Linux 2023 v4.10.0 running Python 3.12"  # not 3.11's 4.11
    settings = clients.eb.describe_configuration_settings(ApplicationName=APP, EnvironmentName=ENV)
    options = {(o["Namespace"], o["OptionName"]): o["Value"]
               for o in settings["ConfigurationSettings"][0]["OptionSettings"]}
    assert options[("aws:elasticbeanstalk:environment:proxy:staticfiles", "/static")] == "board/static"


def test_provision_on_the_docker_platform_sets_no_static_files_mapping(clients):
    provision.provision(clients, APP, ENV, out=lambda line: None, platform="docker")
    settings = clients.eb.describe_configuration_settings(ApplicationName=APP, EnvironmentName=ENV)
    assert not [o for o in settings["ConfigurationSettings"][0]["OptionSettings"]
                if o["Namespace"].endswith(":staticfiles")]  # the Docker platform does not support the mapping


def test_release_v1_then_v2_ends_ready_green_on_the_new_label(ready, tmp_path):
    for label in ("v1", "v2"):
        state = ship(ready, tmp_path, label)
        assert (state.status, state.health, state.version) == ("Ready", "Green", label)
        assert app_version_option(ready) == label


def test_a_bad_version_is_rolled_back_automatically_and_fails_with_the_events(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v2")
    eb_api.mark_bad("v3")
    lines = []
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v3", lines=lines)
    assert failure.value.exit_code == DEPLOY_FAILED
    assert "rolled back to v2" in str(failure.value) and "Failed to deploy application version v3" in str(failure.value)
    assert any("ERROR" in line and "Instance deployment failed" in line for line in lines)  # streamed as they came
    state = environment.describe(ready.eb, APP, ENV)
    assert (state.version, state.health, state.status) == ("v2", "Green", "Ready")


def test_no_rollback_leaves_the_bad_version_and_says_so(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.mark_bad("v2")
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", rollback=False)
    assert failure.value.exit_code == NEEDS_ATTENTION and "--no-rollback" in str(failure.value)
    assert environment.describe(ready.eb, APP, ENV).version == "v2"


def test_a_timeout_rolls_back_once_the_update_settles(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(1.5)  # v2's update outlasts the timeout, and ends half a timeout into the rollback
    eb_api.set_processing(0)

    def out(line: str) -> None:
        if line.startswith("rolling back"):
            eb_api.set_delay(0.1)  # the rollback's own update is quick

    with pytest.raises(DeployError) as failure:
        release.release(ready, ROOT, APP, ENV, "v2", follow.Policy(timeout=1.0, poll=POLL), tmp_path, out=out)
    assert failure.value.exit_code == DEPLOY_FAILED
    assert "timed out" in str(failure.value) and "rolled back to v1" in str(failure.value)
    state = environment.describe(ready.eb, APP, ENV)
    assert (state.version, state.health, state.status) == ("v1", "Green", "Ready")


def test_a_timeout_far_shorter_than_the_update_says_no_rollback_started(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(2)
    eb_api.set_processing(0)
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", timeout=0.2)
    assert failure.value.exit_code == NEEDS_ATTENTION
    assert "timed out" in str(failure.value) and "not rolled back: board-test is still Updating" in str(failure.value)
    assert "failed too" not in str(failure.value)


def test_release_while_another_update_runs_fails_fast_naming_it(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(30)
    ready.eb.update_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel="v1")
    with pytest.raises(DeployError) as busy:
        ship(ready, tmp_path, "v2")
    assert busy.value.exit_code == USAGE
    assert "is Updating" in str(busy.value) and "Deploying new version v1" in str(busy.value)
    assert "--wait-ready" in str(busy.value)


def test_the_same_label_and_bundle_is_reused_and_other_content_is_refused(ready, tmp_path):
    lines = []
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v1", lines=lines)
    assert any("reusing it" in line for line in lines) and any("already in s3://" in line for line in lines)
    bundle = release.Bundle(tmp_path / "other.zip", 1, "0" * 64)
    with pytest.raises(DeployError, match="already exists with a different bundle"):
        versions.label_holds(ready.eb, APP, "v1", release.bundle_key(APP, bundle))


def test_rollback_command_returns_to_the_last_healthy_version(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v2")
    state = back(ready)
    assert state.version == "v1"
    assert back(ready).version == "v2"


def test_prune_keeps_deployed_versions_and_is_a_dry_run_without_yes(ready, tmp_path):
    for label in ("v1", "v2", "v3", "v4"):
        ship(ready, tmp_path, label)
    back(ready, "v1")  # v1 deployed, and oldest
    assert prune.prune(ready, APP, keep=1, yes=False, out=lambda line: None) == ["v3", "v2"]
    assert len(ready.eb.describe_application_versions(ApplicationName=APP)["ApplicationVersions"]) == 4
    prune.prune(ready, APP, keep=1, yes=True, out=lambda line: None)
    versions = ready.eb.describe_application_versions(ApplicationName=APP)["ApplicationVersions"]
    left = {v["VersionLabel"] for v in versions}
    assert left == {"v4", "v1"}


def test_an_unknown_environment_is_one_clear_error(clients, tmp_path):
    with pytest.raises(DeployError, match="no environment 'nowhere-env' in application 'board'"):
        follow.ensure_ready(clients.eb, APP, "nowhere-env")


def test_default_label_is_the_git_sha():
    label = release.default_label(ROOT)
    assert len(label.removesuffix("-dirty")) == 12


def test_bundle_over_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "MAX_BUNDLE_BYTES", 10)
    with pytest.raises(DeployError, match="at most 0.0 MiB: check .ebignore"):
        release.build_bundle(ROOT, tmp_path / "b.zip")
